"""SQLite specifics: the schema function, migrations, pragmas, indexes, file mode, vacuum."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from datetime import timedelta

import pytest

from agentel.store import open_store
from agentel.store.sqlite import SCHEMA_VERSION, SQLiteStore, schema_migrations
from tests.store.store_helpers import agent_run, rid


def _apply(conn: sqlite3.Connection, up_to: int) -> None:
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    for version, statements in schema_migrations():
        if version > up_to:
            break
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
    conn.commit()


def test_schema_is_built_by_a_function_and_recorded(tmp_path):
    migrations = schema_migrations()
    versions = [v for v, _ in migrations]
    assert versions == sorted(set(versions)) and versions[0] == 1 and versions[-1] == SCHEMA_VERSION
    conn = sqlite3.connect(":memory:")
    _apply(conn, SCHEMA_VERSION)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= {"spans", "runs", "feedback", "schema_migrations"}
    store = SQLiteStore(str(tmp_path / "x.db"))
    assert store.schema_version() == SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    store.close()


def test_a_version_1_file_is_migrated_forward_keeping_its_data(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    _apply(conn, 1)
    conn.execute(
        "INSERT INTO runs (run_id, trace_id, status, start_ns, models) "
        "VALUES ('aaaa', 'tt', 'ok', 1, '[]')"
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    assert store.schema_version() == SCHEMA_VERSION
    assert store.run("aaaa")["pid"] is None and store.run("aaaa")["status"] == "ok"
    store.ingest(agent_run("b"))
    store.add_feedback(rid("b" * 16), 1.0)
    assert store.run(rid("b" * 16))["feedback"] == 1.0
    # an existing file keeps auto_vacuum off (changing it needs a full VACUUM); prune still works
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    assert store.prune(timedelta(0)) == 2
    store.close()
    assert (
        SQLiteStore(str(path)).schema_version() == SCHEMA_VERSION
    )  # reopening applies nothing twice


def test_a_version_4_file_gets_run_ids_of_trace_and_span_and_merged_runs_split(tmp_path):
    """Before version 5 a run id was the root span id alone: a span of another trace reusing
    it took the run over. The migration renames every id and recomputes every run."""
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path)
    _apply(conn, 4)
    victim, attacker = "aa" * 16, "ee" * 16
    bare = "1" * 16
    spans = [
        # (trace, span, parent, stamped run id, operation, input tokens)
        (victim, bare, None, bare, "invoke_agent", None),
        (victim, "2" * 16, bare, bare, "chat", 10),
        (attacker, bare, None, bare, "invoke_agent", None),
        (attacker, "3" * 16, bare, bare, "chat", 999_999),
    ]
    for trace, span, parent, run_id, operation, tokens in spans:
        category = "llm" if operation == "chat" else "agent"
        conn.execute(
            "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, "
            "status, run_id, run_id_stamped, category, operation, input_tokens, counted) "
            "VALUES (?, ?, ?, 'n', 'internal', 1, 2, 'ok', ?, 1, ?, ?, ?, ?)",
            (trace, span, parent, run_id, category, operation, tokens, int(tokens is not None)),
        )
    # what the old store held: one run, taken over by the attacker's trace
    conn.execute(
        "INSERT INTO runs (run_id, trace_id, status, start_ns, models, input_tokens) "
        "VALUES (?, ?, 'ok', 1, '[]', 999999)",
        (bare, attacker),
    )
    conn.execute("INSERT INTO feedback (run_id, score, created_ns) VALUES (?, 1.0, 1)", (bare,))
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    runs = {r["run_id"]: r for r in store.runs()}
    assert set(runs) == {victim + bare, attacker + bare}
    assert runs[victim + bare]["input_tokens"] == 10
    assert runs[attacker + bare]["input_tokens"] == 999_999
    assert {s["run_id"] for s in store.spans(trace_id=victim)} == {victim + bare}
    assert store.conn.execute("SELECT run_id FROM feedback").fetchall() == [(attacker + bare,)]
    store.close()


def test_a_version_5_file_gets_request_models_and_model_filters_by_family(tmp_path):
    """Before version 6 spans kept only the response model and runs only their models: the
    migration reads each span's request model from its attributes and recomputes every run."""
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    _apply(conn, 5)
    run_id = "ab" * 16 + "1" * 16
    attributes = {
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    }
    conn.execute(
        "INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status, run_id, "
        "run_id_stamped, category, operation, model, input_tokens, counted, attributes) "
        "VALUES (?, ?, 'chat', 'client', 1, 2, 'ok', ?, 1, 'llm', 'chat', ?, 10, 1, ?)",
        ("ab" * 16, "1" * 16, run_id, "gpt-4o-mini-2024-07-18", json.dumps(attributes)),
    )
    conn.execute(
        "INSERT INTO runs (run_id, trace_id, status, start_ns, models) VALUES (?, ?, 'ok', 1, ?)",
        (run_id, "ab" * 16, '["gpt-4o-mini-2024-07-18"]'),
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(str(path))
    assert [r["run_id"] for r in store.runs(model="gpt-4o-mini")] == [run_id]
    assert store.runs(model="gpt-4o") == []
    (span,) = store.spans()
    assert span["request_model"] == "gpt-4o-mini"
    assert [r["group"] for r in store.stats("model")] == ["gpt-4o-mini"]
    store.close()


def test_new_store_file_is_private(tmp_path):
    path = tmp_path / "private.db"
    open_store(f"sqlite:///{path}").close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT * FROM runs WHERE agent_name = 'x' ORDER BY start_ns DESC", "runs_agent"),
        ("SELECT * FROM runs WHERE conversation_id = 'c' ORDER BY start_ns", "runs_conversation"),
        ("SELECT * FROM runs ORDER BY start_ns DESC", "runs_start"),
        ("SELECT * FROM runs WHERE trace_id = 't'", "runs_trace"),
        ("SELECT * FROM spans WHERE run_id = 'r' ORDER BY start_ns", "spans_run"),
        ("SELECT * FROM spans WHERE trace_id = 't'", "sqlite_autoindex_spans_1"),
        ("SELECT * FROM spans WHERE model = 'm' AND start_ns > 5", "spans_model"),
        ("SELECT * FROM spans WHERE start_ns > 5", "spans_start"),
        ("SELECT count(*) FROM feedback WHERE run_id = 'r'", "feedback_run"),
    ],
)
def test_queries_use_their_index(tmp_path, sql, index):
    store = SQLiteStore(str(tmp_path / "plan.db"))
    plan = " ".join(r[-1] for r in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    store.close()
    assert index in plan, plan


def test_prune_gives_pages_back_to_the_file(tmp_path):
    path = tmp_path / "big.db"
    store = SQLiteStore(str(path))
    for i in range(200):
        spans = agent_run(trace_id=f"{i:032x}", start=1_000 + i, run_id=f"{i + 1:016x}")
        for span in spans:
            span.attributes["payload"] = "x" * 2_000
        store.ingest(spans)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(path)
    assert store.prune(timedelta(0)) == 200
    after = os.path.getsize(path)
    store.close()
    assert after < before / 4, (before, after)
