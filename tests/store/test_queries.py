"""The query API contract: runs filters, where, spans, replay, stats, export and prune, on
memory://, sqlite:/// and mongodb://, with identical answers from all three."""

from __future__ import annotations

import random
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from agentel.store import NotFoundError, QueryError, open_store
from agentel.store.memory import MemoryStore
from agentel.store.query import REPLAY_TYPES, nearest_rank, parse_duration_ms, parse_time
from agentel.store.records import SPAN_FIELDS
from agentel.store.where import WhereError
from tests.store.query_data import DAY, HOUR, MS, RUN, dataset


@pytest.fixture
def now() -> int:
    """The data's "now", taken when a test starts: relative filters ("30m") are read from the
    clock at query time, so data made at import time drifts out of them on a slow run."""
    return time.time_ns()


@pytest.fixture
def loaded(store, now):
    spans = dataset(now)
    random.Random(7).shuffle(spans)
    for i in range(0, len(spans), 4):  # out of order, in several batches
        store.ingest(spans[i : i + 4])
    return store


def ids(runs):
    return "".join(r["run_id"][0] for r in runs)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, "dabce"),
        ({"agent": "planner"}, "ac"),
        ({"status": "error"}, "b"),
        ({"status": "running"}, "d"),
        ({"since": "2h"}, "da"),
        ({"since": "4h", "until": "30m"}, "ab"),
        ({"since": timedelta(days=7)}, "dabc"),
        ({"until": "7d"}, "e"),
        ({"model": "gpt-4o-mini"}, "da"),
        ({"model": "text-embedding-3-small"}, "e"),
        ({"provider": "anthropic"}, "b"),
        ({"provider": "openai"}, "dace"),
        ({"tool": "get_weather"}, "a"),
        ({"tool": "run_tests"}, "b"),
        ({"tool": "run_tests", "has_error": False}, ""),
        ({"tool": "get_weather", "provider": "openai", "since": "2h"}, "a"),
        ({"tool": "no_such_tool"}, ""),
        ({"conversation": "conv-1"}, "a"),
        ({"user": "u2"}, "b"),
        ({"service": "svc-b"}, "b"),
        ({"min_cost": 0.05}, "c"),
        ({"min_duration": "2s"}, "bc"),
        ({"min_duration": 2000}, "bc"),
        ({"min_duration": 2000.001}, "c"),
        ({"has_error": True}, "b"),
        ({"has_error": False}, "dace"),
        ({"agent": "coder", "has_error": False}, "d"),
        ({"text": "paris"}, "a"),  # ASCII letters fold: Paris
        ({"text": "rainy, 14c"}, "a"),  # output messages
        ({"text": 'said "bring'}, "a"),  # quotes inside a tool result
        ({"text": "zürich"}, "a"),  # Z folds, ü is exact
        ({"text": "ZÜRICH"}, ""),
        ({"text": "lyon"}, "d"),  # content recorded only on an event
        ({"text": "city"}, ""),  # keys of the JSON are structure, not content
        ({"text": "user"}, ""),  # ...and so are roles
        ({"text": "100%_"}, ""),  # LIKE wildcards are literal
        ({"where": "cost_usd > 0.05 or status == 'error'"}, "bc"),
        ({"where": "model == 'gpt-4o-mini' and duration_ms == null"}, "d"),
        ({"where": "duration_ms >= 900 and agent_name in ('planner', 'coder')"}, "abc"),
        ({"where": f"run_id == '{RUN['a']}'"}, "a"),
        ({"where": "not errors == 0", "agent": "coder"}, "b"),
    ],
)
def test_run_filters(loaded, filters, expected):
    assert ids(loaded.runs(limit=None, **filters)) == expected


def test_order_and_page(loaded):
    assert ids(loaded.runs(order_by="cost")) == "cbade"
    assert ids(loaded.runs(order_by="tokens")) == "cbaed"
    assert ids(loaded.runs(order_by="duration")) == "cbaed"  # running last
    assert ids(loaded.runs(limit=2, offset=1)) == "ab"
    assert ids(loaded.runs(limit=0)) == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2x"}, "since: '2x' is not a time"),
        ({"until": "yesterday"}, "until: 'yesterday' is not a time"),
        ({"since": timedelta(hours=-1)}, "must not be negative"),
        ({"min_duration": "fast"}, "min_duration: 'fast' is not a duration"),
        ({"min_duration": -5}, "non-negative"),
        ({"min_cost": "cheap"}, "min_cost must be a finite number; got 'cheap'"),
        ({"has_error": "yes"}, "has_error must be True, False or None; got 'yes'"),
        ({"tool": 3}, "tool must be a string; got 3"),
        ({"text": ""}, "text must not be empty"),
        ({"text": "x" * 1001}, "limit is 1000"),
        ({"order_by": "speed"}, "'speed'"),
        ({"offset": -1}, "offset must not be negative"),
        ({"limit": "10"}, "limit must be an integer; got '10'"),
    ],
)
def test_bad_arguments_name_the_value(loaded, kwargs, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loaded.runs(**kwargs)


HOSTILE = [
    "cost_usd > 1; DROP TABLE runs",
    "status == 'x' or 1=1",
    "$where == 'sleep(1000)'",
    "status == {'$ne': 1}",
    "agent_name == {'$function': {'body': 'x'}}",
    "__import__('os').system('rm -rf /') == 1",
    "x" * 5000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_where_is_rejected_and_changes_nothing(loaded, text):
    before = loaded.runs(limit=None)
    with pytest.raises(WhereError):
        loaded.runs(where=text)
    assert loaded.runs(limit=None) == before


def test_injection_inside_a_value_is_only_a_value(loaded):
    for text in ("agent_name == \"x' OR '1'='1\"", "agent_name == '$where'", "status == '%'"):
        assert loaded.runs(where=text) == []
    assert loaded.runs(agent="planner' OR '1'='1") == []
    assert loaded.runs(tool="get_weather' OR '1'='1") == []
    with pytest.raises(QueryError):
        loaded.runs(tool={"$ne": None})
    assert loaded.runs(text="') OR 1=1 --") == []
    assert len(loaded.runs(limit=None)) == 5


def test_spans_filters(loaded):
    def names(**kw):
        return [s["name"] for s in loaded.spans(**kw)]

    assert names(category="tool") == ["execute_tool run_tests", "execute_tool get_weather"]
    assert names(tool="get_weather") == ["execute_tool get_weather"]
    assert names(operation="embeddings") == ["embeddings text-embedding-3-small"]
    assert names(model="gpt-4o-mini", since="2h") == ["chat gpt-4o-mini"] * 3
    assert names(status="error") == ["invoke_agent coder", "execute_tool run_tests"]
    assert names(run_id=RUN["c"]) == ["invoke_agent planner", "chat gpt-4o"]
    assert names(trace_id="b" * 32, category="llm") == ["chat claude-sonnet-4-5"]
    assert names(until="7d") == ["GET /search", "embeddings text-embedding-3-small"]
    assert len(loaded.spans(limit=3)) == 3 and len(loaded.spans()) == 13
    spans = loaded.spans()
    assert spans == sorted(spans, key=lambda s: (s["start_time"], s["span_id"]))


WATERFALL = ["span_id", "parent_span_id", "name", "category", "status", "start_time",
             "duration_ms", "input_tokens", "output_tokens", "cost_usd"]  # fmt: skip


@pytest.mark.parametrize(
    "wanted",
    [WATERFALL, list(SPAN_FIELDS), ["events", "cost_breakdown", "counted", "end_time"], ["name"]],
)
def test_spans_with_fields_are_the_whole_spans_cut_down(loaded, wanted):
    for filters in ({}, {"run_id": RUN["a"]}, {"category": "llm", "limit": 3}, {"until": "7d"}):
        whole = loaded.spans(**filters)
        cut = loaded.spans(**filters, fields=wanted)
        assert cut == [{name: span[name] for name in wanted} for span in whole]
        assert all(list(span) == wanted for span in cut)  # the order asked for
    (running,) = loaded.spans(run_id=RUN["d"], fields=["end_time", "duration_ms"], limit=1)
    assert running == {"end_time": None, "duration_ms": None}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["name", "attrs"], "unknown span field(s) 'attrs'"),
        ("name", "must be a list of span field names"),
        ([3], "must be a list of span field names"),
        ([], "at least one"),
    ],
)
def test_bad_fields_are_refused(loaded, fields, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        loaded.spans(fields=fields)


def test_one_span_by_its_ids_is_the_whole_span(loaded):
    for listed in loaded.spans():
        assert loaded.span(listed["trace_id"], listed["span_id"]) == listed
    tool = loaded.span("a" * 32, "a2" * 8)
    assert tool["attributes"]["gen_ai.tool.call.arguments"] == '{"city": "Paris"}'
    failed = loaded.span("b" * 32, "b2" * 8)
    assert failed["events"][0]["attributes"]["exception.type"] == "AssertionError"
    for trace_id, span_id in (("b" * 32, "a2" * 8), ("a" * 32, "a2" * 7), ("a" * 31, "a2" * 8)):
        with pytest.raises(NotFoundError):  # ids of another trace, prefixes: not found
            loaded.span(trace_id, span_id)
    with pytest.raises(NotFoundError):
        loaded.span("a' OR '1'='1", "x")
    with pytest.raises(QueryError):
        loaded.span({"$ne": None}, "a2" * 8)


def test_trace_returns_the_tree(loaded):
    (root,) = loaded.trace("aaaa")
    assert root["name"] == "invoke_agent planner"
    assert [c["name"] for c in root["children"]] == [
        "chat gpt-4o-mini",
        "execute_tool get_weather",
        "chat gpt-4o-mini",
    ]


def test_replay_timeline(loaded):
    timeline = loaded.replay("aaaa")
    kinds = [e["type"] for e in timeline]
    assert kinds == [
        "run_started",
        "plan",
        "user_message",
        "llm_request",
        "llm_response",
        "tool_called",
        "tool_result",
        "llm_request",
        "state_updated",
        "custom",
        "llm_response",
        "run_finished",
    ]
    by_type = {e["type"]: e for e in timeline}
    assert by_type["user_message"]["data"] == {"content": "What's the weather in Paris?"}
    second = by_type["llm_request"]["data"]  # the dict keeps the later of the two
    assert second["model"] == "gpt-4o-mini" and second["input_messages"] == 2
    response = timeline[4]["data"]
    assert (response["input_tokens"], response["output_tokens"]) == (1000, 50)
    assert response["ttft_ms"] == pytest.approx(120)
    assert response["cost_usd"] > 0 and response["tool_calls"] == ["get_weather"]
    assert timeline[3]["data"]["params"] == {"temperature": 0.2}
    assert timeline[6]["data"]["result"] == 'He said "bring an umbrella" in Zürich'
    assert timeline[5]["data"]["arguments"] == {"city": "Paris"}
    assert by_type["plan"]["data"] == {"steps": ["look up", "answer"], "step_count": 2}
    assert by_type["custom"]["data"] == {
        "event": "agentel.checkpoint",
        "attributes": {"note": "saved"},
    }
    assert timeline[-2]["data"]["output"] == "Rainy, 14C: take a coat."
    finished = by_type["run_finished"]["data"]
    assert finished["status"] == "ok" and finished["llm_calls"] == 2
    assert finished["input_tokens"] == 2500
    assert [e["time"] for e in timeline] == sorted(e["time"] for e in timeline)
    assert all(e["span_id"] for e in timeline)


def test_replay_filters_and_errors(loaded, now):
    failed = loaded.replay("bbbb")
    assert [e["type"] for e in failed if e["type"] == "error"] == ["error", "error"]
    errors = [e["data"] for e in failed if e["type"] == "error"]
    assert errors[0]["error_type"] == "AssertionError" and errors[0]["message"] == "2 failed"
    assert errors[1]["span_name"] == "invoke_agent coder"
    assert errors[1]["message"] == "tests failed"
    only = loaded.replay("bbbb", types=["tool_called", "tool_result"])
    assert [e["type"] for e in only] == ["tool_called", "tool_result"]
    assert only[1]["data"]["status"] == "error"
    start = datetime.fromtimestamp((now - 3 * HOUR + 1000 * MS) / 1e9, tz=timezone.utc)
    later = loaded.replay("bbbb", since=start)
    assert later[0]["type"] == "llm_response" and later[-1]["type"] == "run_finished"
    running = loaded.replay("dddd")
    assert [e["type"] for e in running] == [
        "run_started",
        "user_message",
        "llm_request",
        "llm_response",
    ]
    assert running[1]["data"]["content"] == "Book a table in Lyon"
    with pytest.raises(QueryError, match="'tool_call'"):
        loaded.replay("aaaa", types=["tool_call"])
    assert set(REPLAY_TYPES) >= {e["type"] for e in loaded.replay("aaaa")}


def test_stats_by_model_provider_and_tool(loaded):
    by_model = {r["group"]: r for r in loaded.stats("model")}
    assert list(by_model) == [
        "gpt-4o",
        "claude-sonnet-4-5",
        "gpt-4o-mini",
        "text-embedding-3-small",
    ]
    mini = by_model["gpt-4o-mini"]
    assert (mini["count"], mini["input_tokens"], mini["output_tokens"]) == (3, 2600, 140)
    assert (mini["p50_ms"], mini["p95_ms"]) == (290.0, 480.0)  # nearest rank of 199, 290, 480
    assert mini["errors"] == 0 and mini["error_rate"] == 0
    runs = {r["run_id"]: r for r in loaded.runs(limit=None)}
    assert mini["cost_usd"] == pytest.approx(
        runs[RUN["a"]]["cost_usd"] + runs[RUN["d"]]["cost_usd"]
    )
    assert {r["group"]: r["count"] for r in loaded.stats("provider")} == {
        "openai": 5,
        "anthropic": 1,
    }
    tools = {r["group"]: r for r in loaded.stats("tool")}
    assert tools["run_tests"]["error_rate"] == 1.0 and tools["get_weather"]["errors"] == 0
    assert tools["run_tests"]["p95_ms"] == 890.0 and tools["run_tests"]["cost_usd"] == 0
    recent = loaded.stats("model", since="1d")
    assert {r["group"] for r in recent} == {"gpt-4o-mini", "claude-sonnet-4-5"}


def test_stats_by_agent_day_and_hour(loaded):
    agents = {r["group"]: r for r in loaded.stats("agent")}
    assert set(agents) == {"planner", "coder", None}
    coder = agents["coder"]
    assert (coder["count"], coder["errors"], coder["error_rate"]) == (2, 1, 0.5)
    assert coder["p50_ms"] == coder["p95_ms"] == 2000.0  # the running run has no duration
    planner = agents["planner"]
    assert (planner["p50_ms"], planner["p95_ms"]) == (900.0, 30_000.0)
    days = loaded.stats("day")
    assert [r["group"] for r in days] == sorted(r["group"] for r in days)
    assert sum(r["count"] for r in days) == 5
    assert all(len(r["group"]) == 10 for r in days)
    hours = loaded.stats("hour", since="7d")
    assert sum(r["count"] for r in hours) == 4
    assert all(r["group"].endswith(":00Z") for r in hours)
    with pytest.raises(QueryError, match="'week'"):
        loaded.stats("week")


def test_export_streams_full_records(loaded):
    records = list(loaded.export())
    assert len(records) == 13
    assert [r.start_ns for r in records] == sorted(r.start_ns for r in records)
    svc = [r for r in records if r.trace_id == "a" * 32]
    assert all(r.resource == {"service.name": "svc-a"} for r in svc)
    assert [r.span_id for r in loaded.export(run_id=RUN["c"])] == [RUN["c"][32:], "c1" * 8]
    assert len(list(loaded.export(since="7d"))) == 11


def test_prune_dry_run_and_progress(loaded):
    assert loaded.prune(timedelta(days=1), dry_run=True) == 2
    assert len(loaded.runs(limit=None)) == 5
    seen = []
    assert loaded.prune(timedelta(days=1), progress=seen.append) == 2
    assert sum(seen) == 2
    assert ids(loaded.runs(limit=None)) == "dab"
    assert loaded.prune(timedelta(days=1), dry_run=True) == 0


def test_prune_goes_in_batches(store, now):
    from tests.store.store_helpers import agent_run

    old = now - 40 * DAY
    for i in range(1203):
        prefix = f"{i:016x}"
        store.ingest(agent_run(trace_id=f"{i:032x}", start=old + i, run_id=prefix)[:1])
    seen = []
    assert store.prune(timedelta(days=30), progress=seen.append) == 1203
    assert sum(seen) == 1203 and (len(seen) > 1 or isinstance(store, MemoryStore))
    assert store.runs() == [] and store.spans() == []


def test_all_backends_give_identical_answers(tmp_path, mongodb_url, now):
    spans = dataset(now)
    stores = [MemoryStore(), open_store(f"sqlite:///{tmp_path / 's.db'}"), open_store(mongodb_url)]
    try:
        for i, store in enumerate(stores):
            shuffled = list(spans)
            random.Random(i).shuffle(shuffled)
            store.ingest(shuffled)
        questions = [
            lambda s: s.runs(limit=None),
            lambda s: s.runs(order_by="cost", since="7d", limit=None),
            lambda s: s.runs(text="paris", provider="openai"),
            lambda s: s.runs(where="duration_ms > 100 or ttft_ms == null", limit=None),
            lambda s: s.spans(category="llm"),
            lambda s: s.trace("aaaa"),
            lambda s: s.replay("aaaa"),
            lambda s: s.replay("bbbb", types=["error", "run_finished"]),
            *(lambda s, by=by: s.stats(by) for by in ("model", "provider", "tool", "agent")),
            lambda s: s.stats("day"),
            lambda s: s.stats("hour", since="2d"),
            lambda s: [r.to_dict() for r in s.export()],
        ]
        for question in questions:
            answers = [question(s) for s in stores]
            assert answers[0] == answers[1] == answers[2]
    finally:
        for store in stores:
            store.close()


def test_time_and_duration_parsing():
    now = time.time_ns()
    assert abs(parse_time("2h") - (now - 2 * HOUR)) < 5_000 * MS
    assert abs(parse_time("30m") - (now - 30 * 60_000 * MS)) < 5_000 * MS
    assert parse_time("2026-11-21") == parse_time(datetime(2026, 11, 21, tzinfo=timezone.utc))
    assert parse_time("2026-11-21T08:00Z") == parse_time(datetime(2026, 11, 21, 8))
    assert parse_time(None) is None
    assert parse_duration_ms("1.5s") == 1500 and parse_duration_ms("2m") == 120_000
    assert parse_duration_ms(timedelta(milliseconds=5)) == 5
    with pytest.raises(QueryError, match="'7 days'"):
        parse_time("7 days")
    with pytest.raises(QueryError, match="42"):
        parse_time(42)  # type: ignore[arg-type]


def test_nearest_rank():
    assert nearest_rank([], 50) is None
    assert nearest_rank([7], 95) == 7
    values = list(range(1, 101))
    assert (nearest_rank(values, 50), nearest_rank(values, 95)) == (50, 95)
    assert (nearest_rank([1, 2, 3, 4], 50), nearest_rank([1, 2, 3, 4], 95)) == (2, 4)


def test_export_pages_through_ties_without_losing_or_repeating_spans(store):
    from tests.store.store_helpers import rec

    spans = [
        rec(f"{i:016x}", None, trace_id=f"{t:032x}", start=5 if i % 3 else 7, end=9)
        for t in (1, 2, 3)
        for i in range(850)
    ]  # 2550 spans, only two distinct start times, the same span ids in three traces
    store.ingest(spans)
    exported = [(r.start_ns, r.span_id, r.trace_id) for r in store.export()]
    assert len(exported) == len(set(exported)) == 2550
    assert exported == sorted(exported)
    assert len(store.spans(since=datetime.fromtimestamp(0, tz=timezone.utc), limit=2001)) == 2001
