"""The SQLite backend: one file, WAL mode, one transaction per batch, idempotent upserts."""

from __future__ import annotations

import contextlib
import json
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from agentel.store.base import (
    IngestPlan,
    Store,
    check_order_by,
    check_prefix,
    check_score,
    cutoff_ns,
    pick_prefix,
)
from agentel.store.records import (
    RUN_COLUMNS,
    SPAN_COLUMNS,
    RunRecord,
    SpanRecord,
    dump_json,
    shared_json,
)
from agentel.store.records import iso_time as _iso_time

_JSON_SPAN_COLUMNS = ("cost_breakdown", "attributes", "events", "links", "resource")
_BOOL_SPAN_COLUMNS = ("run_id_stamped", "counted")
_PAYLOAD_COLUMNS = ("attributes", "events", "links", "resource")
_ROLLUP_COLUMNS = tuple(c for c in SPAN_COLUMNS if c not in _PAYLOAD_COLUMNS)
_CHUNK = 500  # SQLite's default limit on bound parameters is 999 on old builds

# The columns as version 1 created them. Later versions add columns with ALTER TABLE, so
# these lists are frozen: a new database replays every migration in order.
_V1_SPAN_COLUMNS = SPAN_COLUMNS
_V1_RUN_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in ("pid", "host"))

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
_RUN_TYPES = {
    "run_id": "TEXT PRIMARY KEY",
    "trace_id": "TEXT NOT NULL",
    "start_ns": "INTEGER",
    "end_ns": "INTEGER",
    "cost_usd": "REAL NOT NULL DEFAULT 0",
    "ttft_ms": "REAL",
    "feedback": "REAL",
    **{c: "INTEGER NOT NULL DEFAULT 0" for c in _RUN_INT_COLUMNS},
}


def _table_sql(table: str, columns: Iterable[str], types: dict[str, str], extra: str = "") -> str:
    cols = ",\n  ".join(f"{c} {types.get(c, 'TEXT')}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}{extra}\n)"


def schema_migrations() -> list[tuple[int, list[str]]]:
    """Forward migrations as (version, statements); applied in order, each recorded once.

    1: spans and runs with the run/trace/start indexes.
    2: the run's pid and host, the feedback table, and indexes for the filters of
       ``runs``/``show``/``replay``/``stats``: runs by agent and by conversation, spans by
       model (run_id, trace_id and start time are indexed since version 1). Each index
       costs every insert, so there is none that no query needs.
    """
    return [
        (
            1,
            [
                _table_sql(
                    "spans",
                    _V1_SPAN_COLUMNS,
                    _SPAN_TYPES,
                    ",\n  PRIMARY KEY (trace_id, span_id)",
                ),
                "CREATE INDEX IF NOT EXISTS spans_run ON spans (run_id, start_ns)",
                "CREATE INDEX IF NOT EXISTS spans_start ON spans (start_ns)",
                "CREATE INDEX IF NOT EXISTS spans_unresolved ON spans (trace_id) "
                "WHERE run_id_stamped = 0",
                _table_sql("runs", _V1_RUN_COLUMNS, _RUN_TYPES),
                "CREATE INDEX IF NOT EXISTS runs_start ON runs (start_ns)",
                "CREATE INDEX IF NOT EXISTS runs_trace ON runs (trace_id)",
            ],
        ),
        (
            2,
            [
                "ALTER TABLE runs ADD COLUMN pid INTEGER",
                "ALTER TABLE runs ADD COLUMN host TEXT",
                "CREATE TABLE IF NOT EXISTS feedback (\n"
                "  id INTEGER PRIMARY KEY,\n"
                "  run_id TEXT NOT NULL,\n"
                "  score REAL NOT NULL,\n"
                "  label TEXT,\n"
                "  comment TEXT,\n"
                "  created_ns INTEGER NOT NULL\n)",
                "CREATE INDEX IF NOT EXISTS feedback_run ON feedback (run_id, created_ns)",
                "CREATE INDEX IF NOT EXISTS runs_agent ON runs (agent_name, start_ns)",
                "CREATE INDEX IF NOT EXISTS runs_conversation ON runs (conversation_id, start_ns) "
                "WHERE conversation_id IS NOT NULL",
                "CREATE INDEX IF NOT EXISTS spans_model ON spans (model, start_ns) "
                "WHERE model IS NOT NULL",
            ],
        ),
    ]


SCHEMA_VERSION = schema_migrations()[-1][0]


def _create_private(path: str) -> bool:
    """Create a new store file readable by its owner only (0600) before SQLite opens it.

    Returns True when the file is new.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


_UPSERT_SPAN = (
    f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) VALUES ({', '.join('?' for _ in SPAN_COLUMNS)}) "
    f"ON CONFLICT (trace_id, span_id) DO UPDATE SET "
    f"{', '.join(f'{c} = excluded.{c}' for c in SPAN_COLUMNS[2:])} "
    # an unfinished span (a live run's top span) never replaces the finished one
    "WHERE excluded.end_ns IS NOT NULL OR spans.end_ns IS NULL"
)
_UPSERT_RUN = (
    f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)}) "
    f"ON CONFLICT (run_id) DO UPDATE SET "
    f"{', '.join(f'{c} = excluded.{c}' for c in RUN_COLUMNS[1:] if c != 'feedback')}"
)
_LOAD_COLUMNS = ", ".join([*_ROLLUP_COLUMNS, "CASE WHEN span_id = run_id THEN resource END"])


class SQLiteStore(Store):
    """A store in one SQLite file, safe to share between threads and processes.

    A new file is created with ``auto_vacuum = INCREMENTAL`` so ``prune`` can give space back
    to the file system. A file created before that (auto_vacuum off) keeps working; pruned
    pages are reused by later writes but the file does not shrink until a manual ``VACUUM``.
    """

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
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before any table
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

    # --- ingest primitives ------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _unstamped_traces(self, trace_ids: set[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(trace_ids)):
            marks = ", ".join("?" for _ in chunk)
            found.update(
                row[0]
                for row in self.conn.execute(
                    f"SELECT DISTINCT trace_id FROM spans WHERE run_id_stamped = 0 "
                    f"AND trace_id IN ({marks})",
                    chunk,
                )
            )
        return found

    def _load(
        self, run_ids: set[str], trace_ids: set[str]
    ) -> tuple[list[SpanRecord], dict[str, Any]]:
        found: dict[tuple[str, str], SpanRecord] = {}
        for column, values in (("run_id", run_ids), ("trace_id", trace_ids)):
            for chunk in _chunks(sorted(values)):
                marks = ", ".join("?" for _ in chunk)
                for row in self.conn.execute(
                    f"SELECT {_LOAD_COLUMNS} FROM spans WHERE {column} IN ({marks})", chunk
                ):
                    record = _rollup_record(row)
                    found[(record.trace_id, record.span_id)] = record
        return list(found.values()), {}

    def _apply(self, plan: IngestPlan) -> set[str]:
        conn = self.conn
        if plan.spans:
            conn.executemany(_UPSERT_SPAN, [_span_row(r) for r in plan.spans])
        if plan.updates:
            conn.executemany(
                "UPDATE spans SET run_id = ?, counted = ? WHERE trace_id = ? AND span_id = ?",
                [(run_id, int(counted), t, s) for t, s, run_id, counted in plan.updates],
            )
        if plan.deleted_runs:
            conn.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in plan.deleted_runs])
        if plan.runs:
            conn.executemany(_UPSERT_RUN, [_run_row(r) for r in plan.runs])
        return set()

    # --- feedback and retention -------------------------------------------------------------
    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, *, label: str | None = None
    ) -> dict[str, Any]:
        score = check_score(score)
        full = self._resolve("runs", "run_id", run_id, "run")
        created_ns = time.time_ns()
        with self._writing():
            self.conn.execute(
                "INSERT INTO feedback (run_id, score, label, comment, created_ns) "
                "VALUES (?, ?, ?, ?, ?)",
                (full, score, label, comment, created_ns),
            )
            self.conn.execute("UPDATE runs SET feedback = ? WHERE run_id = ?", (score, full))
        return {
            "run_id": full,
            "score": score,
            "label": label,
            "comment": comment,
            "created_at": _iso_time(created_ns),
        }

    def prune(self, older_than: datetime | timedelta) -> int:
        """Delete old runs, their spans and feedback, then give free pages back to the file."""
        cutoff = cutoff_ns(older_than)
        old = "SELECT run_id FROM runs WHERE start_ns < ?"
        with self._writing():
            conn = self.conn
            conn.execute(f"DELETE FROM spans WHERE run_id IN ({old})", (cutoff,))
            conn.execute(f"DELETE FROM feedback WHERE run_id IN ({old})", (cutoff,))
            deleted = conn.execute("DELETE FROM runs WHERE start_ns < ?", (cutoff,)).rowcount
        with self._lock:
            if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                # executescript steps the pragma to completion (one step frees one page)
                self.conn.executescript("PRAGMA incremental_vacuum")
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return deleted

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
        return pick_prefix(value, prefix, [r[0] for r in rows], what, self.url)

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


_ROW = operator.attrgetter(*SPAN_COLUMNS)
_COST_BREAKDOWN = SPAN_COLUMNS.index("cost_breakdown")
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_EVENTS = SPAN_COLUMNS.index("events")
_LINKS = SPAN_COLUMNS.index("links")
_RESOURCE = SPAN_COLUMNS.index("resource")


def _json_column(value: Any, empty: str, encode: Any = dump_json) -> str | None:
    if value is None:
        return None
    return encode(value) if value else empty


def _span_row(record: SpanRecord) -> list[Any]:
    """The SPAN_COLUMNS values of a record (JSON columns encoded; bools bind as 0/1)."""
    row = list(_ROW(record))
    row[_COST_BREAKDOWN] = _json_column(row[_COST_BREAKDOWN], "{}")
    row[_ATTRIBUTES] = _json_column(row[_ATTRIBUTES], "{}")
    row[_EVENTS] = _json_column(row[_EVENTS], "[]")
    row[_LINKS] = _json_column(row[_LINKS], "[]")
    row[_RESOURCE] = _json_column(row[_RESOURCE], "{}", shared_json)
    return row


def _span_from_row(row: Sequence[Any]) -> SpanRecord:
    data = dict(zip(SPAN_COLUMNS, row, strict=True))
    for column in _JSON_SPAN_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    for column in _BOOL_SPAN_COLUMNS:
        data[column] = bool(data[column])
    return SpanRecord(**data)


def _rollup_record(row: Sequence[Any]) -> SpanRecord:
    """A stored span without its payload; a run's top span keeps its resource (pid, host)."""
    data = dict(zip(_ROLLUP_COLUMNS, row[:-1], strict=True))
    data["cost_breakdown"] = None
    for column in _BOOL_SPAN_COLUMNS:
        data[column] = bool(data[column])
    if row[-1] is not None:
        data["resource"] = json.loads(row[-1])
    return SpanRecord(**data)


_RUN_ROW = operator.attrgetter(*RUN_COLUMNS)
_MODELS = RUN_COLUMNS.index("models")


def _run_row(run: RunRecord) -> list[Any]:
    row = list(_RUN_ROW(run))
    row[_MODELS] = json.dumps(row[_MODELS])
    return row


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    data["models"] = json.loads(data["models"] or "[]")
    return RunRecord(**data)
