"""The SQLite store: schema, idempotent ingest, order independence, prefixes, file mode."""

from __future__ import annotations

import os
import random
import sqlite3
import stat

import pytest

from agentel.store import AmbiguousIdError, NotFoundError, build_span_record, open_store
from agentel.store.sqlite import SQLiteStore, schema_migrations

TRACE = "ab" * 16


def rec(span_id, parent=None, *, start=0, end=100, status="unset", **attrs):
    return build_span_record(
        trace_id=attrs.pop("trace_id", TRACE),
        span_id=span_id,
        parent_span_id=parent,
        name=attrs.pop("name", f"span {span_id}"),
        kind="internal",
        start_ns=start,
        end_ns=end,
        status=status,
        status_message=None,
        attributes=attrs,
    )


def agent_run(prefix="a"):
    """agent > (chat, execute_tool, chat) with run ids stamped as our processor does."""
    run_id = prefix * 16
    stamp = {"agentel.run.id": run_id}
    return [
        rec(
            run_id,
            None,
            start=0,
            end=1000,
            **stamp,
            **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bot"},
        ),
        rec(
            "1" * 16,
            run_id,
            start=10,
            end=100,
            **stamp,
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 200,
            },
        ),
        rec(
            "2" * 16,
            run_id,
            start=110,
            end=120,
            **stamp,
            **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
        ),
        rec(
            "3" * 16,
            run_id,
            start=130,
            end=900,
            **stamp,
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 1500,
                "gen_ai.usage.output_tokens": 300,
            },
        ),
    ]


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    yield s
    s.close()


def test_schema_is_built_by_a_function_and_recorded(tmp_path):
    migrations = schema_migrations()
    assert [v for v, _ in migrations] == sorted(v for v, _ in migrations)
    conn = sqlite3.connect(":memory:")
    for statement in migrations[-1][1]:
        conn.execute(statement)
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")} >= {
        "spans",
        "runs",
    }
    store = SQLiteStore(str(tmp_path / "x.db"))
    assert store.schema_version() == migrations[-1][0]
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_new_store_file_is_private(tmp_path):
    path = tmp_path / "private.db"
    open_store(f"sqlite:///{path}").close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_ingest_rolls_up_tokens_and_catalog_cost(store):
    store.ingest(agent_run())
    (run,) = store.runs()
    assert run["run_id"] == "a" * 16
    assert (run["input_tokens"], run["output_tokens"]) == (2500, 500)
    assert (run["llm_calls"], run["tool_calls"], run["status"]) == (2, 1, "ok")
    # gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    assert run["cost_usd"] == pytest.approx(2500 * 0.15e-6 + 500 * 0.60e-6, abs=1e-12)
    assert run["unpriced_calls"] == 0
    assert run["models"] == ["gpt-4o-mini"]


def test_ingest_is_idempotent_and_order_independent(tmp_path):
    spans = agent_run()
    reference = open_store(f"sqlite:///{tmp_path / 'ref.db'}")
    reference.ingest(spans)
    expected = reference.runs()
    for seed in range(5):
        shuffled = spans * 2
        random.Random(seed).shuffle(shuffled)
        s = open_store(f"sqlite:///{tmp_path / f's{seed}.db'}")
        for i in range(0, len(shuffled), 3):
            s.ingest(shuffled[i : i + 3])
        assert s.runs() == expected
        assert len(s.spans(run_id="a" * 16)) == 4
        s.close()
    reference.close()


def test_unknown_model_is_unpriced_not_free(store):
    store.ingest(
        [
            rec(
                "c" * 16,
                None,
                **{
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "no-such-model-x",
                    "gen_ai.usage.input_tokens": 10,
                    "gen_ai.usage.output_tokens": 5,
                },
            ),
        ]
    )
    (run,) = store.runs()
    assert run["unpriced_calls"] == 1 and run["cost_usd"] == 0
    (span,) = store.spans(trace_id=TRACE)
    assert span["cost_usd"] is None


def test_foreign_spans_without_run_id_join_their_ancestor_run_when_it_arrives(store):
    child = rec(
        "c" * 16,
        "p" * 0 + "d" * 16,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 10,
            "gen_ai.usage.output_tokens": 1,
        },
    )
    store.ingest([child])
    assert [r["run_id"] for r in store.runs()] == ["c" * 16]  # provisional
    parent = rec("d" * 16, None, **{"gen_ai.operation.name": "invoke_agent"})
    store.ingest([parent])
    runs = store.runs()
    assert [r["run_id"] for r in runs] == ["d" * 16]
    assert runs[0]["input_tokens"] == 10 and runs[0]["llm_calls"] == 1


def test_prefixes_and_errors_name_the_bad_value(store):
    store.ingest(
        [
            *agent_run("a"),
            rec(
                "ab" + "0" * 14,
                None,
                trace_id="cd" * 16,
                **{"gen_ai.operation.name": "invoke_agent", "agentel.run.id": "ab" + "0" * 14},
            ),
        ]
    )
    assert store.run("aaaa")["run_id"] == "a" * 16
    with pytest.raises(AmbiguousIdError) as info:
        store.run("a")
    assert set(info.value.candidates) == {"a" * 16, "ab" + "0" * 14}
    with pytest.raises(NotFoundError, match="'ffff'"):
        store.run("ffff")
    with pytest.raises(NotFoundError, match="not a hex id"):
        store.run("x'; DROP TABLE runs; --")
    assert store.runs(agent="bot")[0]["agent_name"] == "bot"


def test_trace_nests_children(store):
    store.ingest(agent_run())
    (root,) = store.trace(TRACE[:6])
    assert root["span_id"] == "a" * 16
    assert [c["name"] for c in root["children"]] == [
        "span " + "1" * 16,
        "span " + "2" * 16,
        "span " + "3" * 16,
    ]
    assert all(c["counted"] for c in root["children"] if c["category"] == "llm")
