"""The Store contract: every test here runs on memory://, sqlite:/// and mongodb://."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from agentel.semconv.pricing import default_pricebook
from agentel.store import AmbiguousIdError, NotFoundError
from tests.store.store_helpers import TRACE, agent_run, chat, rec, rid

GPT_4O_MINI = (0.15e-6, 0.60e-6)  # USD per input / output token in the shipped catalog


def test_ingest_rolls_up_tokens_and_catalog_cost(store):
    store.ingest(agent_run())
    (run,) = store.runs()
    assert run["run_id"] == rid("a" * 16)
    assert (run["input_tokens"], run["output_tokens"]) == (2500, 500)
    assert (run["llm_calls"], run["tool_calls"], run["status"]) == (2, 1, "ok")
    assert run["cost_usd"] == pytest.approx(2500 * GPT_4O_MINI[0] + 500 * GPT_4O_MINI[1])
    assert (run["unpriced_calls"], run["models"], run["span_count"]) == (0, ["gpt-4o-mini"], 4)
    assert (run["agent_name"], run["duration_ms"]) == ("bot", 0.001)


def test_ingest_is_idempotent_and_order_independent_across_instances(store, open_backend):
    spans = agent_run()
    store.ingest(spans)
    expected = store.runs()
    for seed in range(3):
        shuffled = spans * 2
        random.Random(seed).shuffle(shuffled)
        writers = [open_backend() for _ in range(3)]
        for i in range(0, len(shuffled), 3):
            writers[i % 3].ingest(shuffled[i : i + 3])
        assert open_backend().runs() == expected
        assert len(store.spans(run_id=rid("a" * 16))) == 4


def test_unknown_model_is_unpriced_not_free(store):
    store.ingest([chat("c" * 16, None, model="no-such-model-x", inp=10, out=5)])
    (run,) = store.runs()
    assert (run["unpriced_calls"], run["cost_usd"], run["llm_calls"]) == (1, 0, 1)
    (span,) = store.spans(trace_id=TRACE)
    assert span["cost_usd"] is None and span["counted"] is True


def test_a_failed_call_without_usage_costs_a_known_zero(store):
    failed = rec("c" * 16, None, status="error", **{"gen_ai.operation.name": "chat",
                 "gen_ai.request.model": "gpt-4o-mini", "error.type": "429"})  # fmt: skip
    store.ingest([failed])
    (run,) = store.runs()
    assert (run["cost_usd"], run["unpriced_calls"], run["errors"]) == (0, 0, 1)
    (span,) = store.spans()
    assert (span["cost_usd"], span["cost_source"]) == (0, "no_usage")


def test_framework_llm_span_around_a_provider_span_is_counted_once(store):
    run_id = "a" * 16
    stamp = {"agentel.run.id": run_id}
    top = rec(run_id, None, end=1000, **stamp, **{"gen_ai.operation.name": "invoke_agent"})
    outer = chat("f" * 16, run_id, start=5, end=500, inp=900, out=90, **stamp)
    inner = chat("e" * 16, "f" * 16, start=10, end=400, inp=900, out=90, **stamp)
    store.ingest([top, outer])  # the framework span first
    assert store.run(rid(run_id))["input_tokens"] == 900
    store.ingest([inner])  # the provider span below it describes the same call
    run = store.run(rid(run_id))
    assert (run["input_tokens"], run["output_tokens"], run["llm_calls"]) == (900, 90, 1)
    counted = {s["span_id"]: s["counted"] for s in store.spans(run_id=rid(run_id))}
    assert counted == {run_id: False, "f" * 16: True, "e" * 16: False}


CLAUDE = "claude-sonnet-4-5"
# our chat span (exact cost) and the anthropic SDK's own span nested in it, as anthropic 2.x
# writes it: no input count, cache writes under the official cache_write.input_tokens key
OURS = {
    "gen_ai.provider.name": "anthropic",
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.usage.cache_creation.input_tokens": 900,
    "gen_ai.usage.cost": 0.0046,
    "agentel.cost.source": "catalog",
}
SDK_NATIVE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": CLAUDE,
    "gen_ai.response.model": CLAUDE + "-20250929",
    "gen_ai.usage.output_tokens": 60,
    "gen_ai.usage.cache_read.input_tokens": 200,
    "gen_ai.usage.cache_write.input_tokens": 900,
    "gen_ai.usage.reasoning.output_tokens": 10,
}


@pytest.mark.parametrize("order", ["inner first", "outer first"])
def test_nested_spans_of_one_call_keep_the_most_complete_usage(store, order):
    run_id = "a" * 16
    stamp = {"agentel.run.id": run_id}
    top = rec(run_id, None, end=1000, **stamp, **{"gen_ai.operation.name": "invoke_agent"})
    ours = chat("f" * 16, run_id, CLAUDE, start=5, end=500, inp=1200, out=50, **OURS, **stamp)
    sdk = rec("e" * 16, "f" * 16, start=10, end=400, name="anthropic.messages.create",
              **SDK_NATIVE, **stamp)  # fmt: skip
    batches = [[top, sdk], [ours]] if order == "inner first" else [[top, ours], [sdk]]
    for batch in batches:
        store.ingest(batch)
    run = store.run(rid(run_id))
    merged = {
        "input_tokens": 1200,
        "output_tokens": 60,
        "cache_read_tokens": 200,
        "cache_write_tokens": 900,
        "reasoning_tokens": 10,
    }
    assert {f: run[f] for f in merged} == merged
    assert (run["llm_calls"], run["models"], run["unpriced_calls"]) == (1, [CLAUDE], 0)
    # neither span reported these counts: they are priced again, cache writes at their rate
    cost = default_pricebook().cost(CLAUDE, "anthropic", **merged)
    assert run["cost_usd"] == pytest.approx(cost.total, abs=1e-12)
    spans = {s["span_id"]: s for s in store.spans(run_id=rid(run_id))}
    assert spans["f" * 16]["counted"] and not spans["e" * 16]["counted"]
    assert {f: spans["f" * 16][f] for f in merged} == merged
    assert spans["f" * 16]["cost_usd"] == pytest.approx(cost.total, abs=1e-12)
    (row,) = store.stats(by="model")
    assert (row["count"], row["cache_write_tokens"]) == (1, 900)
    assert row["cost_usd"] == pytest.approx(cost.total, abs=1e-12)
    replayed = store.replay(rid(run_id), types=["llm_request", "llm_response"])
    assert [(e["type"], e["span_id"]) for e in replayed] == [
        ("llm_request", "f" * 16),
        ("llm_response", "f" * 16),
    ]
    assert replayed[1]["data"]["cache_write_tokens"] == 900


def test_foreign_spans_without_run_id_join_their_ancestor_run_when_it_arrives(store):
    store.ingest([chat("c" * 16, "d" * 16, model="gpt-4o", inp=10, out=1)])
    assert [r["run_id"] for r in store.runs()] == [rid("c" * 16)]  # provisional
    store.ingest([rec("d" * 16, "9" * 16, **{"gen_ai.operation.name": "invoke_agent"})])
    assert [r["run_id"] for r in store.runs()] == [rid("d" * 16)]
    store.ingest([rec("9" * 16, None, name="GET /ask")])  # the HTTP root: a run of its own
    runs = {r["run_id"][32:]: r for r in store.runs()}
    assert set(runs) == {"d" * 16, "9" * 16}
    assert (runs["d" * 16]["input_tokens"], runs["d" * 16]["llm_calls"]) == (10, 1)
    assert runs["9" * 16]["span_count"] == 1 and runs["9" * 16]["input_tokens"] == 0
    assert {s["span_id"]: s["run_id"] for s in store.spans(trace_id=TRACE)} == {
        "c" * 16: rid("d" * 16),
        "d" * 16: rid("d" * 16),
        "9" * 16: rid("9" * 16),
    }


def test_stamped_spans_pull_in_an_unstamped_descendant_stored_earlier(store):
    run_id = "a" * 16
    store.ingest([chat("c" * 16, "1" * 16)])  # a third-party span under a stamped step
    stamp = {"agentel.run.id": run_id}
    store.ingest(
        [
            rec(run_id, None, **stamp, **{"gen_ai.operation.name": "invoke_agent"}),
            rec("1" * 16, run_id, **stamp),
        ]
    )
    (run,) = store.runs()
    assert (run["run_id"], run["span_count"], run["input_tokens"]) == (rid(run_id), 3, 1000)


def test_redelivered_span_with_new_content_replaces_the_old_one(store):
    spans = agent_run()
    store.ingest(spans)
    failed = rec(
        "2" * 16,
        "a" * 16,
        start=110,
        end=120,
        status="error",
        **{"agentel.run.id": "a" * 16, "gen_ai.operation.name": "execute_tool"},
    )
    store.ingest([failed, failed])
    run = store.run(rid("a" * 16))
    assert (run["errors"], run["tool_calls"], run["span_count"]) == (1, 1, 4)


def test_live_run_is_running_until_its_top_span_ends(store, monkeypatch):
    monkeypatch.setenv("AGENTEL_ABANDON_AFTER", "36500d")  # spans from 1970 are not silent
    run_id = "a" * 16
    live = rec(
        run_id,
        None,
        end=None,
        resource={"process.pid": 4242, "host.name": "box"},
        **{"agentel.run.id": run_id, "gen_ai.operation.name": "invoke_agent"},
        **{"gen_ai.agent.name": "bot"},
    )
    store.ingest([live])
    run = store.run(rid(run_id))
    assert (run["status"], run["end_time"], run["agent_name"]) == ("running", None, "bot")
    assert (run["pid"], run["host"]) == (4242, "box")
    store.ingest(agent_run()[1:])  # steps finish first: still running
    assert store.run(rid(run_id))["status"] == "running"
    store.ingest([agent_run()[0]])
    finished = store.run(rid(run_id))
    assert (finished["status"], finished["llm_calls"], finished["pid"]) == ("ok", 2, None)
    store.ingest([live])  # a late snapshot never replaces the finished span
    assert store.run(rid(run_id)) == finished


def test_prefixes_and_errors_name_the_bad_value(store):
    other = "cd" * 16 + "ab" + "0" * 14
    store.ingest(
        [
            *agent_run("a"),
            rec(
                other[32:],
                None,
                trace_id="cd" * 16,
                **{"gen_ai.operation.name": "invoke_agent", "agentel.run.id": other},
            ),
        ]
    )
    assert store.run("abab")["run_id"] == rid("a" * 16)
    assert store.run("CDC")["run_id"] == other
    second = {"gen_ai.operation.name": "invoke_agent", "agentel.run.id": "b" * 16}
    store.ingest([rec("b" * 16, None, **second)])  # a second run in the same trace
    with pytest.raises(AmbiguousIdError) as info:
        store.run("abab")
    assert set(info.value.candidates) == {rid("a" * 16), rid("b" * 16)}
    assert store.run(rid("b" * 15))["run_id"] == rid("b" * 16)
    with pytest.raises(NotFoundError, match="'ffff'"):
        store.run("ffff")
    with pytest.raises(NotFoundError, match="not a hex id"):
        store.run("x'; DROP TABLE runs; --")
    assert store.resolve_trace_id("cd") == "cd" * 16
    with pytest.raises(NotFoundError, match="'ee'"):
        store.trace("ee")


def test_trace_and_run_tree_nest_children(store):
    store.ingest(agent_run())
    (root,) = store.trace(TRACE[:6])
    assert root["span_id"] == "a" * 16
    assert [c["span_id"] for c in root["children"]] == ["1" * 16, "2" * 16, "3" * 16]
    assert all(c["counted"] for c in root["children"] if c["category"] == "llm")
    assert store.run_tree("aba") == [root]
    span = root["children"][0]
    assert span["attributes"]["gen_ai.usage.input_tokens"] == 1000
    assert span["cost_breakdown"]["input"] == pytest.approx(1000 * GPT_4O_MINI[0])


def test_runs_filter_order_and_page(store, monkeypatch):
    monkeypatch.setenv("AGENTEL_ABANDON_AFTER", "36500d")  # spans from 1970 are not silent
    store.ingest(agent_run("a", trace_id="a1" * 16, start=1_000))
    store.ingest(agent_run("b", trace_id="b1" * 16, start=3_000)[1:3])  # still running
    store.ingest(
        [
            rec(
                "c" * 16,
                None,
                trace_id="c1" * 16,
                start=2_000,
                end=9_000,
                status="error",
                **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "other"},
            )
        ]
    )

    def ids(**kw):
        return [r["run_id"][32] for r in store.runs(**kw)]

    assert ids() == ["b", "c", "a"]
    assert ids(order_by="duration") == ["c", "a", "b"]  # unfinished last
    assert ids(order_by="tokens") == ["a", "b", "c"]
    assert ids(order_by="cost") == ["a", "b", "c"]
    assert ids(agent="bot") == ["a"] and ids(status="error") == ["c"]
    assert ids(status="running") == ["b"]
    assert ids(limit=1, offset=1) == ["c"] and ids(limit=None) == ["b", "c", "a"]
    assert ids(limit=0) == []
    with pytest.raises(ValueError, match="'speed'"):
        store.runs(order_by="speed")


def test_feedback_sets_the_run_score_and_survives_new_spans(store):
    store.ingest(agent_run()[1:])
    entry = store.add_feedback("abab", 0.25, comment="slow", label="poor")
    assert entry["run_id"] == rid("a" * 16) and entry["comment"] == "slow"
    assert entry["label"] == "poor"
    assert entry["created_at"].endswith("Z")
    store.add_feedback(rid("a" * 16), 1)
    store.ingest([agent_run()[0]])
    assert store.run(rid("a" * 16))["feedback"] == 1.0
    with pytest.raises(ValueError, match="nan"):
        store.add_feedback(rid("a" * 16), float("nan"))
    with pytest.raises(NotFoundError):
        store.add_feedback("ffff", 1)


def test_prune_deletes_old_runs_with_their_spans(store):
    now = datetime.now(timezone.utc)
    old_ns = int((now - timedelta(days=40)).timestamp() * 1e9)
    new_ns = int((now - timedelta(hours=1)).timestamp() * 1e9)
    store.ingest(agent_run("a", trace_id="a1" * 16, start=old_ns))
    store.ingest(agent_run("b", trace_id="b1" * 16, start=new_ns))
    store.add_feedback(rid("a" * 16, "a1" * 16), 0.5)
    assert store.prune(timedelta(days=30)) == 1
    assert [r["run_id"] for r in store.runs()] == [rid("b" * 16, "b1" * 16)]
    assert store.spans(trace_id="a1" * 16) == [] and len(store.spans()) == 4
    assert store.prune(now - timedelta(days=30)) == 0
    with pytest.raises(ValueError, match="negative"):
        store.prune(timedelta(days=-1))


def test_empty_and_duplicate_batches(store):
    store.ingest([])
    assert store.runs() == [] and store.spans() == []
    with pytest.raises(NotFoundError):
        store.run("ab")
    spans = agent_run()
    store.ingest(spans + spans[::-1])
    assert store.run("ab")["span_count"] == 4 and len(store.spans()) == 4


def test_a_span_id_reused_by_another_trace_never_takes_a_run_over(store):
    """Span ids are unique only within a trace: a run is named by its trace and root span."""
    victim = agent_run(trace_id="a1" * 16)
    store.ingest(victim)
    before = store.run(rid("a" * 16, "a1" * 16))
    evil = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "evil"}
    forged = "a1" * 16 + "a" * 16  # the victim's whole run id, claimed from another trace
    store.ingest(
        [
            rec("a" * 16, None, trace_id="e1" * 16, **evil, **{"agentel.run.id": "a" * 16}),
            chat("9" * 16, "a" * 16, trace_id="e1" * 16, inp=999_999, **{"agentel.run.id": forged}),
            chat("8" * 16, None, trace_id="e2" * 16, inp=5, **{"agentel.run.id": forged}),
        ]
    )
    assert store.run(rid("a" * 16, "a1" * 16)) == before
    attacker = store.run(rid("a" * 16, "e1" * 16))
    assert (attacker["agent_name"], attacker["input_tokens"]) == ("evil", 999_999)
    assert {r["run_id"] for r in store.runs()} == {
        rid("a" * 16, "a1" * 16),
        rid("a" * 16, "e1" * 16),
        rid("8" * 16, "e2" * 16),
    }
    assert store.run("a1")["run_id"] == rid("a" * 16, "a1" * 16)  # a short prefix still works


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_a_child_process_given_only_traceparent_joins_the_run_above_it(store, order):
    """The child's agent stamped a run of its own (no baggage told it otherwise); the top-most
    agent rule still makes it part of the parent's run, whatever the order of arrival."""
    child = TRACE + "c" * 16
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "worker"}
    batches = [
        agent_run(),  # the parent's run: root a, a tool span 2 that called the child
        [rec("c" * 16, "2" * 16, start=111, end=119, **agent, **{"agentel.run.id": child})],
        [chat("d" * 16, "c" * 16, start=112, end=118, inp=7, **{"agentel.run.id": child})],
    ]
    for index in order:
        store.ingest(batches[index])
    (run,) = store.runs()
    assert run["run_id"] == rid("a" * 16)
    assert (run["span_count"], run["llm_calls"], run["input_tokens"]) == (6, 3, 2507)
    assert {s["run_id"] for s in store.spans()} == {rid("a" * 16)}


def _model_runs() -> list:
    """One call per run: (trace letter, request model, response model or None)."""
    calls = [
        ("a", "gpt-4o-mini", "gpt-4o-mini-2024-07-18"),  # what the real API answers
        ("b", "gpt-4o", "gpt-4o-2024-08-06"),
        ("c", "my-deployment", "gpt-4o-mini-2024-07-18"),  # an Azure deployment name
        ("d", "openai/gpt-4o-mini", None),
    ]
    spans = []
    for letter, asked, answered in calls:
        response = {} if answered is None else {"gen_ai.response.model": answered}
        spans.append(chat(letter * 16, None, model=asked, trace_id=letter * 32, **response))
    return spans


def _letters(runs: list[dict]) -> str:
    return "".join(sorted(r["trace_id"][0] for r in runs))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", "acd"),  # request, dated response, provider-prefixed request
        ("gpt-4o", "b"),  # never the gpt-4o-mini family
        ("gpt-4o-mini-2024-07-18", "ac"),
        ("GPT-4o-Mini ", "acd"),
        ("my-deployment", "c"),
        ("gpt-4o-2024-08-06", "b"),
        ("gpt-4", ""),
    ],
)
def test_model_filter_matches_request_response_and_dated_family(store, model, expected):
    store.ingest(_model_runs())
    assert _letters(store.runs(model=model)) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("model == 'gpt-4o'", "b"),
        ("models == 'gpt-4o-mini'", "acd"),
        ("not model == 'gpt-4o-mini'", "b"),
        ("model in ('my-deployment', 'gpt-4o')", "bc"),
        ("model != 'gpt-4o-mini-2024-07-18' and model != null", "bd"),
    ],
)
def test_where_model_matches_as_the_model_filter_does(store, where, expected):
    store.ingest(_model_runs())
    assert _letters(store.runs(where=where)) == expected


def test_stats_group_by_request_model_or_by_response_model(store):
    store.ingest(_model_runs())
    by_request = {r["group"]: r["count"] for r in store.stats("model")}
    assert by_request == {"gpt-4o-mini": 1, "gpt-4o": 1, "my-deployment": 1,
                          "openai/gpt-4o-mini": 1}  # fmt: skip
    by_response = {r["group"]: r["count"] for r in store.stats("response_model")}
    assert by_response == {"gpt-4o-mini-2024-07-18": 2, "gpt-4o-2024-08-06": 1,
                           "openai/gpt-4o-mini": 1}  # fmt: skip
    (span,) = store.spans(trace_id="c" * 32)
    assert (span["model"], span["request_model"]) == ("gpt-4o-mini-2024-07-18", "my-deployment")
