"""The SQLite backend: one file, WAL mode, one transaction per batch, idempotent upserts."""

from __future__ import annotations

import contextlib
import json
import operator
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from agentel.semconv.normalize import REQUEST_MODEL_KEYS
from agentel.store.base import (
    IngestPlan,
    Store,
    check_prefix,
    check_score,
    cutoff_ns,
    dropped_entries,
    feedback_entry,
    pick_prefix,
    plan_ingest,
)
from agentel.store.errors import StoreError
from agentel.store.query import (
    GROUP_FIELDS,
    PERCENTILES,
    SPAN_GROUPINGS,
    RunFilter,
    SpanFilter,
    like_pattern,
    rank,
    stat_row,
)
from agentel.store.records import (
    RUN_COLUMNS,
    SPAN_COLUMNS,
    TOKEN_FIELDS,
    RunRecord,
    SpanRecord,
    dump_json,
    model_key,
    shared_json,
    span_columns,
    span_dict_maker,
)
from agentel.store.rollup import MERGED_FIELDS
from agentel.store.where import FIELDS, to_sql

_JSON_SPAN_COLUMNS = ("cost_breakdown", "attributes", "events", "links", "resource")
_BOOL_SPAN_COLUMNS = ("run_id_stamped", "counted")
_PAYLOAD_COLUMNS = ("attributes", "events", "links", "resource")
_ROLLUP_COLUMNS = tuple(c for c in SPAN_COLUMNS if c not in _PAYLOAD_COLUMNS)
_CHUNK = 500  # SQLite's default limit on bound parameters is 999 on old builds

# The columns as version 1 created them. Later versions add columns with ALTER TABLE, so
# these lists are frozen: a new database replays every migration in order.
_V1_SPAN_COLUMNS = tuple(c for c in SPAN_COLUMNS if c != "request_model")
_V1_RUN_COLUMNS = tuple(c for c in RUN_COLUMNS if c not in ("pid", "host", "model_keys"))

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
    3: the running runs by host, which ``mark_abandoned`` reads on every open.
    4: ``spans_usage``, a covering index of the counted LLM/embedding spans ordered by model
       and duration: ``stats(by="model")`` reads only it, its sums in one pass and each
       percentile by seeking to its rank.
    5: run ids name the trace too (trace id + root span id; they were the root span id
       alone, which another trace could reuse). Feedback, runs and spans are renamed, then
       every run is recomputed from its spans (``RECOMPUTE_AFTER``), which splits runs that
       two traces had merged.
    6: model filters and stats see request and response models. Spans get
       ``request_model`` (read from the stored attributes; the span's model when none is
       named), runs ``model_keys`` (filled by recomputing every run), and ``spans_usage`` is
       keyed by the request model, which ``stats(by="model")`` groups by.
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
        (
            3,
            ["CREATE INDEX IF NOT EXISTS runs_running ON runs (host) WHERE status = 'running'"],
        ),
        (
            4,
            [
                "CREATE INDEX IF NOT EXISTS spans_usage ON spans (model, "
                "max(0, end_ns - start_ns), start_ns, end_ns, status, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
                "cost_usd) WHERE counted = 1",
            ],
        ),
        (
            5,
            [
                "UPDATE feedback SET run_id = (SELECT trace_id FROM runs "
                "WHERE runs.run_id = feedback.run_id) || run_id WHERE length(run_id) = 16 "
                "AND EXISTS (SELECT 1 FROM runs WHERE runs.run_id = feedback.run_id)",
                "UPDATE runs SET run_id = trace_id || run_id WHERE length(run_id) = 16",
                "UPDATE spans SET run_id = trace_id || run_id WHERE length(run_id) = 16",
            ],
        ),
        (
            6,
            [
                "ALTER TABLE spans ADD COLUMN request_model TEXT",
                "UPDATE spans SET request_model = coalesce("
                + ", ".join(
                    f"nullif(json_extract(attributes, '$.\"{key}\"'), '')"
                    for key in REQUEST_MODEL_KEYS
                )
                + ", model) WHERE model IS NOT NULL",
                "ALTER TABLE runs ADD COLUMN model_keys TEXT",
                "DROP INDEX IF EXISTS spans_usage",
                "CREATE INDEX IF NOT EXISTS spans_usage_request ON spans (request_model, "
                "max(0, end_ns - start_ns), start_ns, end_ns, status, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
                "cost_usd) WHERE counted = 1",
            ],
        ),
    ]


RECOMPUTE_AFTER = frozenset({5, 6})
"""Migrations after which every run is recomputed from its spans, in the same transaction."""


SCHEMA_VERSION = schema_migrations()[-1][0]

_DROPPED_TABLE = (
    "CREATE TABLE IF NOT EXISTS dropped_spans (\n"
    "  host TEXT NOT NULL,\n"
    "  pid INTEGER NOT NULL,\n"
    "  service_name TEXT,\n"
    "  dropped INTEGER NOT NULL,\n"
    "  live_runs INTEGER NOT NULL DEFAULT 0,\n"
    "  first_ns INTEGER NOT NULL,\n"
    "  last_ns INTEGER NOT NULL,\n"
    "  PRIMARY KEY (host, pid)\n)"
)
"""Created by the first recorded drop, not by a migration: most stores never need it, and a
reader of an older store finds no table and so no drops."""
_DROPPED_LIVE_COLUMN = "ALTER TABLE dropped_spans ADD COLUMN live_runs INTEGER NOT NULL DEFAULT 0"


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


_INHERITED: list[sqlite3.Connection] = []
"""Connections a forked child inherited: kept referenced so that the child never closes them."""

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
_UPDATE_MERGED = (
    "UPDATE spans SET "
    + ", ".join(
        f"{c} = COALESCE(?, {c})" if c == "cost_breakdown" else f"{c} = ?" for c in MERGED_FIELDS
    )
    + " WHERE trace_id = ? AND span_id = ?"
)
_LOAD_COLUMNS = ", ".join(
    [*_ROLLUP_COLUMNS, "CASE WHEN trace_id || span_id = run_id THEN resource END"]
)


class SQLiteStore(Store):
    """A store in one SQLite file, safe to share between threads and processes.

    A new file is created with ``auto_vacuum = INCREMENTAL`` so ``prune`` can give space back
    to the file system. A file created before that (auto_vacuum off) keeps working; pruned
    pages are reused by later writes but the file does not shrink until a manual ``VACUUM``.
    """

    def __init__(
        self, path: str, *, busy_timeout_ms: int = 30_000, read_only: bool = False
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.url = f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        weak = weakref.WeakMethod(self._reset_lock)
        if hasattr(os, "register_at_fork"):  # not on Windows
            os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m())
        self._connect()
        if not read_only:
            with contextlib.suppress(sqlite3.Error):  # a read-only file still opens for reading
                self.mark_abandoned()

    # --- connection and schema --------------------------------------------------------------
    def _reset_lock(self) -> None:
        self._lock = threading.RLock()  # a lock held by another thread at fork stays held

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid != os.getpid():
            _INHERITED.append(self._conn)  # never close (so never touch) a parent's connection
        if self.read_only:
            conn = self._connect_read_only()
            self._conn, self._pid = conn, os.getpid()
            return conn
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

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that can never write: no file, schema, migration or mark is created.

        ``mode=ro``; and ``immutable=1`` when the directory is not writable and holds no WAL
        to read, so SQLite never tries to create the ``-wal``/``-shm`` files it cannot.
        """
        path = os.path.abspath(self.path)
        if not os.path.isfile(path):
            raise StoreError(f"no store at {self.path}: nothing was recorded there")
        if os.path.getsize(path) == 0:
            raise StoreError(f"{self.path} is empty: nothing was recorded there")
        wal = path + "-wal"
        has_wal = os.path.exists(wal) and os.path.getsize(wal) > 0
        options = "mode=ro"
        if not os.access(os.path.dirname(path), os.W_OK) and not has_wal:
            options += "&immutable=1"
        uri = "file:" + urllib.parse.quote(path) + "?" + options
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        try:
            (version,) = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path} is not an agentel store: {exc}") from exc
        if version is None or version < SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{self.path} was written by an older agentel (schema {version}, this one reads "
                f"{SCHEMA_VERSION}): open it once for writing to upgrade it"
            )
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
            recompute = False
            for version, statements in pending:
                if version in applied:
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
                recompute = recompute or version in RECOMPUTE_AFTER
            if recompute:
                self._recompute_all(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _recompute_all(self, conn: sqlite3.Connection) -> None:
        """Recompute every run that has spans from those spans (inside the caller's
        transaction), a chunk of runs at a time."""
        self._conn, self._pid = conn, os.getpid()
        run_ids = [r[0] for r in conn.execute("SELECT DISTINCT run_id FROM spans")]
        for chunk in _chunks([r for r in run_ids if r]):
            stored, versions = self._load(set(chunk), set())
            self._apply(plan_ingest([], stored, set(), set(chunk), versions))

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
                conn.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk, say): a
                # second ROLLBACK would hide the real error behind "no transaction is active"
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")  # one snapshot of the WAL for every read inside
            try:
                yield
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def _census(self) -> tuple[set[str], dict[str, int], dict[str, int]]:
        conn = self.conn
        run_ids = {row[0] for row in conn.execute("SELECT run_id FROM runs")}
        per_run: dict[str, int] = {}
        unassigned: dict[str, int] = {}
        for run_id, count in conn.execute(
            "SELECT run_id, count(*) FROM spans GROUP BY run_id"
        ).fetchall():
            if run_id is not None:
                per_run[run_id] = count
            else:
                unassigned = dict(
                    conn.execute(
                        "SELECT trace_id, count(*) FROM spans WHERE run_id IS NULL "
                        "GROUP BY trace_id"
                    ).fetchall()
                )
        return run_ids, per_run, unassigned

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
        if plan.merged:
            conn.executemany(_UPDATE_MERGED, [_merged_row(r) for r in plan.merged])
        if plan.deleted_runs:
            conn.executemany("DELETE FROM runs WHERE run_id = ?", [(r,) for r in plan.deleted_runs])
        if plan.runs:
            conn.executemany(_UPSERT_RUN, [_run_row(r) for r in plan.runs])
        return set()

    def _running_on(self, host: str) -> list[tuple[str, int | None, int | None]]:
        with self._lock:
            return self.conn.execute(
                "SELECT run_id, pid, start_ns FROM runs WHERE status = 'running' AND host = ?",
                (host,),
            ).fetchall()

    def _silent_since(self, cutoff_ns: int) -> list[str]:
        with self._lock:
            return [
                row[0]
                for row in self.conn.execute(
                    "SELECT run_id FROM runs WHERE status = 'running' AND NOT EXISTS ("
                    "SELECT 1 FROM spans WHERE spans.run_id = runs.run_id "
                    "AND (start_ns >= ? OR end_ns >= ?))",
                    (cutoff_ns, cutoff_ns),
                )
            ]

    def _set_abandoned(self, run_ids: list[str]) -> None:
        with self._writing():
            self.conn.executemany(
                "UPDATE runs SET status = 'abandoned' WHERE run_id = ? AND status = 'running'",
                [(r,) for r in run_ids],
            )

    # --- spans lost before the store ---------------------------------------------------------
    def record_dropped_spans(
        self,
        count: int,
        *,
        host: str,
        pid: int,
        service_name: str | None = None,
        live_runs: int = 0,
    ) -> None:
        count, live_runs = max(0, count), max(0, live_runs)
        if not count and not live_runs:
            return
        now = time.time_ns()
        with self._writing():
            self.conn.execute(_DROPPED_TABLE)
            if "live_runs" not in self._dropped_columns():  # a table an older agentel made
                self.conn.execute(_DROPPED_LIVE_COLUMN)
            self.conn.execute(
                "INSERT INTO dropped_spans "
                "(host, pid, service_name, dropped, live_runs, first_ns, last_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, pid) DO UPDATE SET "
                "dropped = dropped + excluded.dropped, "
                "live_runs = live_runs + excluded.live_runs, last_ns = excluded.last_ns, "
                "service_name = coalesce(excluded.service_name, service_name)",
                (host, pid, service_name, count, live_runs, now, now),
            )

    def _dropped_columns(self) -> set[str]:
        return {row[1] for row in self.conn.execute("PRAGMA table_info(dropped_spans)")}

    def dropped_spans(self) -> list[dict[str, Any]]:
        with self._lock:
            columns = self._dropped_columns()
            if not columns:  # no drop recorded yet: no table
                return []
            names = [
                "host", "pid", "service_name", "dropped", "first_ns", "last_ns",
                *(["live_runs"] if "live_runs" in columns else []),
            ]  # fmt: skip
            rows = self.conn.execute(
                "SELECT " + ", ".join(names) + " FROM dropped_spans"
            ).fetchall()
        return dropped_entries([dict(zip(names, row, strict=True)) for row in rows])

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
        return feedback_entry(full, score, label, comment, created_ns)

    def prune(
        self,
        older_than: datetime | timedelta,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete old runs, their spans and feedback in batches (one transaction each), then
        give free pages back to the file."""
        cutoff = cutoff_ns(older_than)
        if dry_run:
            with self._lock:
                sql = "SELECT count(*) FROM runs WHERE start_ns < ?"
                return self.conn.execute(sql, (cutoff,)).fetchone()[0]
        deleted = 0
        while True:
            with self._writing():
                conn = self.conn
                ids = [
                    row[0]
                    for row in conn.execute(
                        "SELECT run_id FROM runs WHERE start_ns < ? LIMIT ?", (cutoff, _PRUNE_BATCH)
                    )
                ]
                if ids:
                    batch = (json.dumps(ids),)
                    for table in ("spans", "feedback", "runs"):
                        conn.execute(f"DELETE FROM {table} WHERE run_id IN {_JSON_IDS}", batch)
            if not ids:
                break
            deleted += len(ids)
            if progress is not None:
                progress(len(ids))
        if deleted:
            with self._lock:
                if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
                    # executescript steps the pragma to completion (one step frees one page)
                    self.conn.executescript("PRAGMA incremental_vacuum")
                    self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return deleted

    # --- queries -----------------------------------------------------------------------------
    def _content_candidates(
        self, patterns: list[str]
    ) -> Iterable[tuple[str | None, dict[str, Any], list[dict[str, Any]]]]:
        likes = [like_pattern(p) for p in patterns]
        clause = " OR ".join(
            f"{column} LIKE ? ESCAPE '!'" for column in ("attributes", "events") for _ in likes
        )
        with self._lock:
            rows = self.conn.execute(
                f"SELECT run_id, attributes, events FROM spans WHERE {clause}", likes + likes
            ).fetchall()
        return [(r[0], json.loads(r[1] or "{}"), json.loads(r[2] or "[]")) for r in rows]

    def _find_runs(
        self,
        found: RunFilter,
        run_ids: set[str] | None,
        limit: int | None,
        offset: int,
        order_by: str,
    ) -> list[RunRecord]:
        where, params = _run_where(found, run_ids)
        sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {_RUN_ORDER[order_by]} DESC, run_id LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [_run_from_row(row) for row in rows]

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

    def _iter_spans(self, found: SpanFilter) -> Iterator[SpanRecord]:
        for row in self._span_rows(found, SPAN_COLUMNS):
            yield _span_from_row(row[:_KEYS])

    def _span_fields(self, found: SpanFilter, wanted: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        columns = span_columns(wanted)
        make = span_dict_maker(wanted, columns)
        for row in self._span_rows(found, columns):
            yield make(row)

    def _span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        with self._lock:
            row = self.conn.execute(
                f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans WHERE trace_id = ? AND span_id = ?",
                (trace_id, span_id),
            ).fetchone()
        return None if row is None else _span_from_row(row)

    def _span_rows(self, found: SpanFilter, columns: Sequence[str]) -> Iterator[Sequence[Any]]:
        """Rows of ``columns`` then start_ns, span_id, trace_id, in keyset pages of those three:
        no cursor stays open between pages."""
        where, params = _span_where(found)
        after: tuple[int, str, str] | None = None
        while True:
            clauses, values = list(where), list(params)
            if after is not None:
                # start_ns >= ? drives the index; the rest skips what earlier pages returned
                clauses.append(
                    "start_ns >= ? AND NOT (start_ns = ? AND (span_id < ? OR "
                    "(span_id = ? AND trace_id <= ?)))"
                )
                values += [after[0], after[0], after[1], after[1], after[2]]
            sql = f"SELECT {', '.join(columns)}, start_ns, span_id, trace_id FROM spans"
            if clauses:
                sql += " WHERE " + " AND ".join(clauses)
            sql += " ORDER BY start_ns, span_id, trace_id LIMIT ?"
            with self._lock:
                rows = self.conn.execute(sql, [*values, _PAGE]).fetchall()
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1][_KEYS:]

    def _stats(self, by: str, since_ns: int | None, until_ns: int | None) -> list[dict[str, Any]]:
        """Sums and counts by GROUP BY, percentiles in SQL too: only the answers leave SQLite.
        Stats by model read only the ``spans_usage_request`` index (migration 6)."""
        if by in SPAN_GROUPINGS:
            table = "spans"
            key = GROUP_FIELDS[by]
            if by == "tool":
                where, cost, unpriced = ["category = 'tool'"], "0", "0"
            else:  # counted spans are exactly the LLM/embedding spans that roll up
                where, cost, unpriced = ["counted = 1"], _PICO_SQL, "cost_usd IS NULL"
        else:
            table, where = "runs", []
            key = _BUCKET_SQL.get(by, "agent_name")
            cost, unpriced = _PICO_SQL, "unpriced_calls"
        params: list[Any] = []
        for bound, op in ((since_ns, ">="), (until_ns, "<")):
            if bound is not None:
                where.append(f"start_ns {op} ?")
                params.append(bound)
        condition = " AND ".join(where) or "1"
        tokens = ", ".join(f"coalesce(sum({t}), 0)" for t in TOKEN_FIELDS)
        timed = f"{condition} AND end_ns IS NOT NULL AND start_ns IS NOT NULL"
        totals = (
            f"SELECT {key}, count(*), coalesce(sum(status = 'error'), 0), {tokens}, "
            f"coalesce(sum({cost}), 0), coalesce(sum({unpriced}), 0), "
            f"count(CASE WHEN end_ns IS NOT NULL AND start_ns IS NOT NULL THEN 1 END) "
            f"FROM {table} WHERE {condition} GROUP BY 1"
        )
        with self._lock:
            groups = self.conn.execute(totals, params).fetchall()
            if by == "model":  # seek to each rank along the spans_usage_request index
                seek = (
                    f"SELECT {_DURATION_SQL} FROM spans WHERE {timed} AND request_model IS ? "
                    f"ORDER BY {_DURATION_SQL} LIMIT 1 OFFSET ?"
                )
                picked = {
                    g[0]: [
                        self.conn.execute(seek, [*params, g[0], rank(g[-1], p)]).fetchone()[0]
                        for p in PERCENTILES
                    ]
                    for g in groups
                    if g[-1]
                }
            else:  # one pass: number each group's sorted durations, keep the nearest ranks
                ranks = " OR ".join(f"n = max(1, ({p} * total + 99) / 100)" for p in PERCENTILES)
                window = (
                    f"SELECT k, d FROM (SELECT {key} AS k, {_DURATION_SQL} AS d, "
                    f"row_number() OVER (PARTITION BY {key} ORDER BY {_DURATION_SQL}) AS n, "
                    f"count(*) OVER (PARTITION BY {key}) AS total FROM {table} WHERE {timed}) "
                    f"WHERE {ranks} ORDER BY k, n"
                )
                picked = {}
                for group, duration in self.conn.execute(window, params):
                    picked.setdefault(group, []).append(duration)
        rows = []
        for group, count, errors, *sums, cost_pico, unpriced_n, _ in groups:
            found = picked.get(group, [])
            p50, p95 = (found[0], found[-1]) if found else (None, None)
            rows.append(stat_row(group, count, errors, sums, cost_pico, unpriced_n, p50, p95))
        return rows


_PAGE = 1000
_PRUNE_BATCH = 1000
_JSON_IDS = "(SELECT value FROM json_each(?))"
_PICO_SQL = "CAST(cost_usd * 1e12 + 0.5 AS INTEGER)"
_DURATION_SQL = "max(0, end_ns - start_ns)"
_BUCKET_SQL = {
    "day": "strftime('%Y-%m-%d', start_ns / 1000000000, 'unixepoch')",
    "hour": "strftime('%Y-%m-%dT%H:00Z', start_ns / 1000000000, 'unixepoch')",
}
_RUN_ORDER = {
    "start": "start_ns",
    "cost": "cost_usd",
    "duration": "(end_ns - start_ns)",
    "tokens": "(input_tokens + output_tokens)",
}
_DURATION_MS_SQL = "(max(0, end_ns - start_ns) / 1e6)"
_WHERE_COLUMNS = {f: f for f in FIELDS} | {
    "model": "model_keys",
    "models": "model_keys",
    "duration_ms": _DURATION_MS_SQL,
}


def _run_where(found: RunFilter, run_ids: set[str] | None) -> tuple[list[str], list[Any]]:
    """A run filter as SQL conditions with bound parameters (column names are constants)."""
    equal = found.equalities()  # keys are field names fixed in RunFilter, never user text
    where: list[str] = [f"{column} = ?" for column in equal]
    params: list[Any] = list(equal.values())
    if found.since_ns is not None:
        where.append("start_ns >= ?")
        params.append(found.since_ns)
    if found.until_ns is not None:
        where.append("start_ns < ?")
        params.append(found.until_ns)
    if found.model is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(runs.model_keys) WHERE value = ?)")
        params.append(model_key(found.model))
    if found.provider is not None:
        where.append(
            "EXISTS (SELECT 1 FROM spans WHERE spans.run_id = runs.run_id "
            "AND spans.counted = 1 AND spans.provider = ?)"
        )
        params.append(found.provider)
    if found.tool is not None:
        where.append(
            "EXISTS (SELECT 1 FROM spans WHERE spans.run_id = runs.run_id AND spans.tool_name = ?)"
        )
        params.append(found.tool)
    if found.min_cost is not None:
        where.append("cost_usd >= ?")
        params.append(found.min_cost)
    if found.min_duration_ms is not None:
        where.append(f"end_ns IS NOT NULL AND {_DURATION_MS_SQL} >= ?")
        params.append(found.min_duration_ms)
    if found.has_error is not None:
        where.append("errors > 0" if found.has_error else "errors = 0")
    if run_ids is not None:
        where.append(f"run_id IN {_JSON_IDS}")
        params.append(json.dumps(sorted(run_ids)))
    if found.where is not None:
        clause, values = to_sql(found.where, _WHERE_COLUMNS)
        where.append(clause)
        params += values
    return where, params


def _span_where(found: SpanFilter) -> tuple[list[str], list[Any]]:
    equal = found.equalities()  # keys are field names fixed in SpanFilter, never user text
    where: list[str] = [f"{column} = ?" for column in equal]
    params: list[Any] = list(equal.values())
    if found.since_ns is not None:
        where.append("start_ns >= ?")
        params.append(found.since_ns)
    if found.until_ns is not None:
        where.append("start_ns < ?")
        params.append(found.until_ns)
    return where, params


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


_ROW = operator.attrgetter(*SPAN_COLUMNS)
_COST_BREAKDOWN = SPAN_COLUMNS.index("cost_breakdown")
_ATTRIBUTES = SPAN_COLUMNS.index("attributes")
_EVENTS = SPAN_COLUMNS.index("events")
_LINKS = SPAN_COLUMNS.index("links")
_RESOURCE = SPAN_COLUMNS.index("resource")


def _merged_row(record: SpanRecord) -> list[Any]:
    """``_UPDATE_MERGED``'s parameters for a span whose call's usage was merged onto it."""
    row = [getattr(record, c) for c in MERGED_FIELDS]
    breakdown = record.cost_breakdown
    row[MERGED_FIELDS.index("cost_breakdown")] = None if breakdown is None else dump_json(breakdown)
    return [*row, record.trace_id, record.span_id]


def _span_row(record: SpanRecord) -> list[Any]:
    """The SPAN_COLUMNS values of a record (JSON columns encoded; bools bind as 0/1).

    A None JSON column stays NULL and an empty one is stored as ``{}`` / ``[]`` without
    encoding. Written out long-hand: it runs once per span on the ingest path.
    """
    row = list(_ROW(record))
    if (value := row[_COST_BREAKDOWN]) is not None:
        row[_COST_BREAKDOWN] = dump_json(value) if value else "{}"
    if (value := row[_ATTRIBUTES]) is not None:
        row[_ATTRIBUTES] = dump_json(value) if value else "{}"
    if (value := row[_EVENTS]) is not None:
        row[_EVENTS] = dump_json(value) if value else "[]"
    if (value := row[_LINKS]) is not None:
        row[_LINKS] = dump_json(value) if value else "[]"
    if (value := row[_RESOURCE]) is not None:
        row[_RESOURCE] = shared_json(value) if value else "{}"
    return row


_KEYS = -3  # the paging keys (start_ns, span_id, trace_id) end every row of _span_rows


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
_MODEL_KEYS = RUN_COLUMNS.index("model_keys")


def _run_row(run: RunRecord) -> list[Any]:
    row = list(_RUN_ROW(run))
    row[_MODELS] = json.dumps(row[_MODELS])
    row[_MODEL_KEYS] = json.dumps(row[_MODEL_KEYS])
    return row


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    data["models"] = json.loads(data["models"] or "[]")
    data["model_keys"] = json.loads(data["model_keys"] or "[]")
    return RunRecord(**data)
