"""The filter language: parsing, hostile input, and identical answers from SQL and Python."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentel.store import open_store
from agentel.store.where import (
    FIELDS,
    MAX_LENGTH,
    NUMBER,
    Compare,
    WhereError,
    parse,
    to_mongo,
    to_predicate,
    to_sql,
)
from tests.store.store_helpers import rec

COLUMNS = {f: f for f in FIELDS} | {
    "model": "model_keys",
    "models": "model_keys",
    "duration_ms": "((end_ns - start_ns) / 1e6)",
}


@pytest.fixture(scope="module")
def runs_db(tmp_path_factory):
    """A real store with runs that differ in every filterable way."""
    path = tmp_path_factory.mktemp("where") / "runs.db"
    store = open_store(f"sqlite:///{path}")
    specs = [
        ("a", "planner", "gpt-4o", 1000, 100, "ok", 5_000_000),
        ("b", "planner", "gpt-4o-mini", 20, 5, "error", 1_000_000),
        ("c", "coder", "claude-sonnet-4-5", 3000, 900, "ok", 90_000_000),
        ("d", "coder", "mystery-model", 10, 10, "ok", 2_000_000),
    ]
    records = []
    for letter, agent, model, tin, tout, status, dur in specs:
        run_id = letter * 16
        records += [
            rec(run_id, None, trace_id=letter * 32, start=0, end=dur, status=status,
                **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                   "agentel.run.id": run_id}),
            rec(letter + "1" * 15, run_id, trace_id=letter * 32, start=1, end=2,
                **{"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
                   "gen_ai.usage.input_tokens": tin, "gen_ai.usage.output_tokens": tout,
                   "agentel.run.id": run_id}),
        ]  # fmt: skip
    records.append(  # a run with no LLM call: models [] and no ttft
        rec("e" * 16, None, trace_id="e" * 32, start=0, end=1,
            **{"gen_ai.operation.name": "invoke_agent", "agentel.run.id": "e" * 16})
    )  # fmt: skip
    store.ingest(records)
    runs = store.runs(limit=None)
    store.close()
    return path, runs


def sql_ids(path, text):
    clause, params = to_sql(parse(text), COLUMNS)
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute(f"SELECT run_id FROM runs WHERE {clause}", params))
    finally:
        conn.close()


def py_ids(runs, text):
    keep = to_predicate(parse(text))
    return sorted(r["run_id"] for r in runs if keep(r))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cost_usd > 0.0001 and model == 'gpt-4o'", "a"),
        ("status == 'error'", "b"),
        ("agent_name == \"coder\" and not model == 'mystery-model'", "c"),
        ("model in ('gpt-4o', 'gpt-4o-mini')", "ab"),
        ("duration_ms >= 5", "ac"),
        ("unpriced_calls > 0 or llm_calls == 0", "de"),
        ("model == null", "e"),
        ("ttft_ms == null and (input_tokens < 15 or output_tokens >= 900)", "cde"),
        ("not ttft_ms > 5", "abcde"),
        ("agent_name != 'planner'", "cde"),
    ],
)
def test_examples_agree_in_sql_and_python(runs_db, text, expected):
    path, runs = runs_db
    want = sorted(c * 48 for c in expected)  # trace id c * 32, root span id c * 16
    assert sql_ids(path, text) == want
    assert py_ids(runs, text) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cost_usd > 1; DROP TABLE runs", "unexpected character ';'"),
        ("status == 'x' or 1=1", "unexpected character '='"),
        ("status == 'x' or 1 == 1", "unknown field '1' at position 17"),
        ("$where == 'sleep(1000)'", "unexpected character '$'"),
        ("status == {'$ne': 1}", "unexpected character '{'"),
        ("__import__('os') == 1", "unknown field '__import__'"),
        ("cost_usd > 'cheap'", "cost_usd is a number"),
        ("status == error", "quote the value 'error'"),
        ("status > 'a'", "status is text"),
        ("cost_usd >", "ends too early"),
        ("(status == 'ok'", "ends too early"),
        ("status == 'ok')", "unexpected ')'"),
        ("", "empty"),
        ("x" * (MAX_LENGTH + 1), "limit is 2000"),
        ("not " * 40 + "errors == 0", "nests deeper"),
        (" or ".join(["errors == 0"] * 70), "more than 64"),
        ("cost_usd > 1e999", "out of range"),
    ],
)
def test_hostile_and_broken_input_gets_a_clear_error(runs_db, text, message):
    path, _ = runs_db
    with pytest.raises(WhereError, match=re.escape(message)):
        parse(text)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 5  # nothing touched
    conn.close()


def test_injection_inside_a_string_is_only_a_value(runs_db):
    path, runs = runs_db
    text = "agent_name == \"x' OR '1'='1\" or agent_name == '$where'"
    assert sql_ids(path, text) == py_ids(runs, text) == []
    mongo = to_mongo(parse(text), {f: f for f in FIELDS})
    assert mongo == {
        "$or": [{"agent_name": {"$eq": "x' OR '1'='1"}}, {"agent_name": {"$eq": "$where"}}]
    }


def test_mongo_operators_come_only_from_the_compiler():
    tree = parse("not (cost_usd >= 0.5 and model in ('a', 'b')) or status != 'ok'")
    doc = to_mongo(tree, {f: f"r.{f}" for f in FIELDS} | {"model": "r.models"})

    def operators(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("$"):
                    yield key
                yield from operators(value)
        elif isinstance(node, list):
            for item in node:
                yield from operators(item)

    assert set(operators(doc)) <= {
        "$or",
        "$and",
        "$nor",
        "$eq",
        "$ne",
        "$gte",
        "$gt",
        "$lt",
        "$lte",
        "$in",
        "$nin",
    }


NUMBER_FIELDS = sorted(f for f, t in FIELDS.items() if t == NUMBER)
comparisons = st.one_of(
    st.builds(
        lambda f, op, v: f"{f} {op} {v}",
        st.sampled_from(NUMBER_FIELDS),
        st.sampled_from(["==", "!=", ">", ">=", "<", "<="]),
        st.sampled_from(["0", "5", "20", "1000", "0.0001", "null"]),
    ).filter(lambda s: not s.endswith("null") or " == " in s or " != " in s),
    st.builds(
        lambda f, op, v: f"{f} {op} '{v}'",
        st.sampled_from(["agent_name", "status", "model", "name"]),
        st.sampled_from(["==", "!="]),
        st.sampled_from(["planner", "coder", "ok", "error", "gpt-4o", "nothing"]),
    ),
)
expressions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"({a} or {b})", inner, inner),
        st.builds(lambda a: f"not {a}", inner),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_sql_and_python_always_agree(runs_db, text):
    path, runs = runs_db
    assert sql_ids(path, text) == py_ids(runs, text)


def test_parse_tree_shape():
    assert parse("errors in (1, 2)") == Compare("errors", "in", (1.0, 2.0))


def test_models_is_another_name_for_model_and_a_bad_field_lists_the_good_ones():
    assert to_predicate(parse("models == 'gpt-4o'"))({"models": ["gpt-4o-2024-08-06"]})
    with pytest.raises(WhereError) as caught:
        parse("model_name == 'gpt-4o'")
    message = str(caught.value)
    assert message.startswith("unknown field 'model_name' at position 0; fields: run_id, ")
    assert all(name in message for name in FIELDS)
