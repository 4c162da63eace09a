"""The SQLite backend: one file, WAL mode, one transaction per batch, idempotent upserts."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from agentel.store.base import Store, check_order_by, check_prefix
from agentel.store.errors import AmbiguousIdError, NotFoundError
from agentel.store.records import RUN_COLUMNS, SPAN_COLUMNS, RunRecord, SpanRecord, dump_json
from agentel.store.rollup import Node, compute_run, mark_counted, resolve_run_ids

_JSON_SPAN_COLUMNS = ("cost_breakdown", "attributes", "events", "links", "resource")
_BOOL_SPAN_COLUMNS = ("run_id_stamped", "counted")
_PAYLOAD_COLUMNS = ("attributes", "events", "links", "resource")
_ROLLUP_COLUMNS = tuple(c for c in SPAN_COLUMNS if c not in _PAYLOAD_COLUMNS)
# Created on first use, so stores written before feedback existed need no migration.
_FEEDBACK_TABLE = (
    "CREATE TABLE IF NOT EXISTS feedback (run_id TEXT NOT NULL, score REAL NOT NULL, "
    "label TEXT, comment TEXT, created_ns INTEGER NOT NULL)"
)
_CHUNK = 500  # SQLite's default limit on bound parameters is 999 on old builds

_SPAN_TYPES = {
    "start_ns": "INTEGER NOT NULL",
    "end_ns": "INTEGER",
    "run_id_stamped": "INTEGER NOT NULL DEFAULT 0",
    "counted": "INTEGER NOT NULL DEFAULT 0",
    "iteration": "INTEGER",
    "input_tokens": "INTEGER",
    "output_tokens": "INTEGER",
    "cache_read_tokens": "INTEGER",
    "cache_write_tokens": "INTEGER",
    "reasoning_tokens": "INTEGER",
    "cost_usd": "REAL",
    "ttft_ms": "REAL",
    "output_tps": "REAL",
    "trace_id": "TEXT NOT NULL",
    "span_id": "TEXT NOT NULL",
    "name": "TEXT NOT NULL",
}
_RUN_TYPES = {
    "run_id": "TEXT PRIMARY KEY",
    "trace_id": "TEXT NOT NULL",
    "start_ns": "INTEGER",
    "end_ns": "INTEGER",
    "cost_usd": "REAL NOT NULL DEFAULT 0",
    "ttft_ms": "REAL",
    "feedback": "REAL",
}
_RUN_INT_COLUMNS = {
    "llm_calls",
    "tool_calls",
    "errors",
    "iterations",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "unpriced_calls",
    "span_count",
}


def _table_sql(table: str, columns: Iterable[str], types: dict[str, str], extra: str = "") -> str:
    cols = ",\n  ".join(f"{c} {types.get(c, 'TEXT')}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}{extra}\n)"


def schema_migrations() -> list[tuple[int, list[str]]]:
    """Forward migrations as (version, statements); applied in order and recorded."""
    run_types = {**_RUN_TYPES, **{c: "INTEGER NOT NULL DEFAULT 0" for c in _RUN_INT_COLUMNS}}
    return [
        (
            1,
            [
                _table_sql(
                    "spans",
                    SPAN_COLUMNS,
                    _SPAN_TYPES,
                    ",\n  PRIMARY KEY (trace_id, span_id)",
                ),
                "CREATE INDEX IF NOT EXISTS spans_run ON spans (run_id, start_ns)",
                "CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns)",
                "CREATE INDEX IF NOT EXISTS spans_unresolved ON spans (trace_id) "
                "WHERE run_id_stamped = 0",
                _table_sql("runs", RUN_COLUMNS, run_types),
                "CREATE INDEX IF NOT EXISTS runs_start ON runs (start_ns)",
                "CREATE INDEX IF NOT EXISTS runs_trace ON runs (trace_id)",
            ],
        ),
    ]


SCHEMA_VERSION = schema_migrations()[-1][0]


def _create_private(path: str) -> None:
    """Create a new store file readable by its owner only (0600) before SQLite opens it."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class SQLiteStore(Store):
    """A store in one SQLite file, safe to share between threads and processes."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._connect()

    # --- connection and schema --------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            _create_private(self.path)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        self._migrate(conn)
        self._conn = conn
        self._pid = os.getpid()
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        pending = [(v, stmts) for v, stmts in schema_migrations() if v not in applied]
        if not pending:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, statements in pending:
                if version in applied:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, reopened after a fork (a connection must never cross a fork)."""
        if self._conn is None or self._pid != os.getpid():
            return self._connect()
        return self._conn

    def schema_version(self) -> int:
        """The highest applied migration."""
        return self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # --- ingest ------------------------------------------------------------------------------
    def ingest(self, records: Sequence[SpanRecord]) -> None:
        if not records:
            return
        rows = [_span_row(r) for r in records]
        placeholders = ", ".join("?" for _ in SPAN_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in SPAN_COLUMNS[2:])
        upsert = (
            f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT (trace_id, span_id) DO UPDATE SET {updates}"
        )
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                touched = {r.run_id for r in records if r.run_id}
                touched |= self._previous_runs(conn, records)
                conn.executemany(upsert, rows)
                touched |= self._resolve_traces(conn, {r.trace_id for r in records})
                self._rollup(conn, touched)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _previous_runs(self, conn: sqlite3.Connection, records: Sequence[SpanRecord]) -> set[str]:
        """Runs that re-delivered unstamped spans belonged to (they may move to another run)."""
        keys = [(r.trace_id, r.span_id) for r in records if not r.run_id_stamped]
        found: set[str] = set()
        for trace_id, span_id in keys:
            row = conn.execute(
                "SELECT run_id FROM spans WHERE trace_id = ? AND span_id = ?", (trace_id, span_id)
            ).fetchone()
            if row and row[0]:
                found.add(row[0])
        return found

    def _resolve_traces(self, conn: sqlite3.Connection, trace_ids: set[str]) -> set[str]:
        """Re-resolve run membership in traces holding unstamped spans; returns runs touched."""
        touched: set[str] = set()
        unresolved: list[str] = []
        for chunk in _chunks(sorted(trace_ids)):
            marks = ", ".join("?" for _ in chunk)
            unresolved += [
                row[0]
                for row in conn.execute(
                    f"SELECT DISTINCT trace_id FROM spans WHERE run_id_stamped = 0 "
                    f"AND trace_id IN ({marks})",
                    chunk,
                )
            ]
        for trace_id in unresolved:
            rows = conn.execute(
                "SELECT span_id, parent_span_id, operation, run_id, run_id_stamped "
                "FROM spans WHERE trace_id = ?",
                (trace_id,),
            ).fetchall()
            nodes = {r[0]: Node(r[0], r[1], r[2], r[3] if r[4] else None) for r in rows}
            current = {r[0]: r[3] for r in rows}
            resolved = resolve_run_ids(nodes)
            changes = [
                (run_id, trace_id, span_id)
                for span_id, run_id in resolved.items()
                if current.get(span_id) != run_id
            ]
            for _, _, span_id in changes:
                if current.get(span_id):
                    touched.add(current[span_id])
            touched.update(run_id for run_id, _, _ in changes)
            touched.update(v for v in resolved.values())
            conn.executemany(
                "UPDATE spans SET run_id = ? WHERE trace_id = ? AND span_id = ?", changes
            )
        return touched

    def _rollup(self, conn: sqlite3.Connection, run_ids: set[str]) -> None:
        """Recompute `counted` flags and run records for the given runs."""
        columns = ", ".join(_ROLLUP_COLUMNS)
        by_run: dict[str, list[SpanRecord]] = {run_id: [] for run_id in run_ids}
        for chunk in _chunks(sorted(run_ids)):
            marks = ", ".join("?" for _ in chunk)
            for row in conn.execute(
                f"SELECT {columns} FROM spans WHERE run_id IN ({marks})", chunk
            ):
                record = _rollup_record(row)
                by_run[record.run_id].append(record)  # type: ignore[index]
        counted_changes: list[tuple[int, str, str]] = []
        run_rows: list[tuple[Any, ...]] = []
        deleted: list[tuple[str]] = []
        for run_id, spans in by_run.items():
            before = {s.span_id: s.counted for s in spans}
            mark_counted(spans)
            counted_changes += [
                (int(s.counted), s.trace_id, s.span_id)
                for s in spans
                if before[s.span_id] != s.counted
            ]
            run = compute_run(run_id, spans)
            if run is None:
                deleted.append((run_id,))
            else:
                run_rows.append(_run_row(run))
        if counted_changes:
            conn.executemany(
                "UPDATE spans SET counted = ? WHERE trace_id = ? AND span_id = ?", counted_changes
            )
        if deleted:
            conn.executemany("DELETE FROM runs WHERE run_id = ?", deleted)
        if run_rows:
            marks = ", ".join("?" for _ in RUN_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS[1:] if c != "feedback")
            conn.executemany(
                f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({marks}) "
                f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
                run_rows,
            )

    # --- queries -----------------------------------------------------------------------------
    def runs(
        self,
        *,
        agent: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
        order_by: str = "start",
    ) -> list[dict[str, Any]]:
        order = {
            "start": "start_ns",
            "cost": "cost_usd",
            "duration": "(end_ns - start_ns)",
            "tokens": "(input_tokens + output_tokens)",
        }[check_order_by(order_by)]
        where, params = [], []
        if agent is not None:
            where.append("agent_name = ?")
            params.append(agent)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order} DESC, run_id LIMIT ? OFFSET ?"
        params += [-1 if limit is None else int(limit), int(offset)]
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [_run_from_row(row).to_dict() for row in rows]

    def run(self, run_id: str) -> dict[str, Any]:
        full = self._resolve("runs", "run_id", run_id, "run")
        with self._lock:
            row = self.conn.execute(
                f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_id = ?", (full,)
            ).fetchone()
        return _run_from_row(row).to_dict()

    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, *, label: str | None = None
    ) -> None:
        """Record feedback on a run (id or unique prefix); the run keeps the latest score."""
        value = float(score)
        if not math.isfinite(value):
            raise ValueError(f"feedback score must be a finite number; got {score!r}")
        full = self._resolve("runs", "run_id", run_id, "run")
        with self._lock:
            conn = self.conn
            conn.execute(_FEEDBACK_TABLE)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO feedback (run_id, score, label, comment, created_ns) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (full, value, label, comment, time.time_ns()),
                )
                conn.execute("UPDATE runs SET feedback = ? WHERE run_id = ?", (value, full))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def resolve_trace_id(self, trace_id: str) -> str:
        return self._resolve("spans", "trace_id", trace_id, "trace")

    def _resolve(self, table: str, column: str, value: str, what: str) -> str:
        prefix = check_prefix(value, what)
        with self._lock:
            rows = self.conn.execute(
                f"SELECT DISTINCT {column} FROM {table} WHERE {column} >= ? AND {column} < ? "
                f"ORDER BY {column} LIMIT 11",
                (prefix, prefix + "g"),
            ).fetchall()
        ids = [r[0] for r in rows]
        if prefix in ids:
            return prefix
        if not ids:
            raise NotFoundError(f"no {what} with id or prefix {value!r} in {self.url}")
        if len(ids) > 1:
            raise AmbiguousIdError(value, ids)
        return ids[0]

    def spans(
        self, *, trace_id: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        where, params = [], []
        if trace_id is not None:
            where.append("trace_id = ?")
            params.append(trace_id)
        if run_id is not None:
            where.append("run_id = ?")
            params.append(run_id)
        sql = f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_ns, span_id"
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [_span_from_row(row).to_dict() for row in rows]


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _span_row(record: SpanRecord) -> tuple[Any, ...]:
    values = []
    for column in SPAN_COLUMNS:
        value = getattr(record, column)
        if column in _JSON_SPAN_COLUMNS:
            value = None if value is None else dump_json(value)
        elif column in _BOOL_SPAN_COLUMNS:
            value = int(bool(value))
        values.append(value)
    return tuple(values)


def _span_from_row(row: Sequence[Any]) -> SpanRecord:
    data = dict(zip(SPAN_COLUMNS, row, strict=True))
    for column in _JSON_SPAN_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    for column in _BOOL_SPAN_COLUMNS:
        data[column] = bool(data[column])
    return SpanRecord(**data)


def _rollup_record(row: Sequence[Any]) -> SpanRecord:
    data = dict(zip(_ROLLUP_COLUMNS, row, strict=True))
    data["cost_breakdown"] = None
    for column in _BOOL_SPAN_COLUMNS:
        data[column] = bool(data[column])
    return SpanRecord(**data)


def _run_row(run: RunRecord) -> tuple[Any, ...]:
    return tuple(json.dumps(run.models) if c == "models" else getattr(run, c) for c in RUN_COLUMNS)


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    data["models"] = json.loads(data["models"] or "[]")
    return RunRecord(**data)
