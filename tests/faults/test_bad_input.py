"""Bad input through the ingest path: every span is stored, nothing else is harmed.

Each case runs on memory, SQLite and MongoDB (the ``store`` fixture), with records built by
``build_span_record`` exactly as the exporters, the OTLP receiver and ``import`` build them;
the 10 MB case also goes through the real SDK and the SQLite exporter. The normalizer and
the ingest path are fuzzed with hypothesis.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentel.exporters.processor import RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.semconv.generate import load_registry
from agentel.semconv.normalize import normalize
from agentel.store import SpanRecord, Store, build_span_record, open_store
from agentel.store.memory import MemoryStore
from agentel.store.sanitize import DEFAULT_MAX_ATTRIBUTE_CHARS, truncation_marker

TRACE = "cd" * 16
RUN = "a" * 16
AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "fuzzed"}
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 10,
}


def span(
    span_id: str,
    parent: str | None = None,
    *,
    start: int = 1_000,
    end: int | None = 2_000,
    name: str | None = None,
    trace_id: str = TRACE,
    status_message: str | None = None,
    events: list[dict[str, Any]] | None = None,
    **attributes: Any,
) -> SpanRecord:
    return build_span_record(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name or f"span {span_id}",
        kind="internal",
        start_ns=start,
        end_ns=end,
        status="error" if status_message else "unset",
        status_message=status_message,
        attributes=attributes,
        events=events,
    )


def sid(i: int) -> str:
    return format(i + 1, "016x")


def strict_json(value: Any) -> str:
    """What every API/CLI consumer needs: strict JSON, encodable as UTF-8."""
    text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    return text


def test_unsupported_types_nan_and_inf_are_stored(store: Store) -> None:
    weird = {
        "an.object": object(),
        "a.set": {1, 2},
        "nan": math.nan,
        "inf": math.inf,
        "bytes": b"\xff\xfe",
        "nested": {"deep": [1, {"x": math.nan}]},
        "huge": 2**80,
        "mixed": [1, "x", None, math.inf],
        "gen_ai.usage.input_tokens": math.nan,
        "gen_ai.usage.output_tokens": math.inf,
        "gen_ai.usage.cost": math.nan,
        "gen_ai.response.time_to_first_chunk": -math.inf,
        "agentel.iteration": 2**70,
        "gen_ai.request.model": 42,
        "gen_ai.operation.name": "chat",
    }
    store.ingest([span(RUN, **AGENT), span(sid(1), RUN, **weird), span(sid(2), RUN, **CHAT)])
    spans = {s["span_id"]: s for s in store.spans(trace_id=TRACE)}
    assert set(spans) == {RUN, sid(1), sid(2)}
    bad = spans[sid(1)]
    assert bad["input_tokens"] is None and bad["output_tokens"] is None
    assert bad["cost_usd"] is None and bad["ttft_ms"] is None and bad["iteration"] is None
    (run,) = store.runs()
    strict_json(run)  # the rollups stay finite numbers
    assert (run["span_count"], run["input_tokens"], run["output_tokens"]) == (3, 100, 10)
    strict_json(list(spans.values()))  # every backend holds the same JSON values
    assert bad["attributes"]["nan"] == "nan" and bad["attributes"]["huge"] == 2**80
    assert bad["attributes"]["bytes"] == "\ufffd\ufffd"
    assert bad["attributes"]["a.set"] == "{1, 2}"


def test_a_10_mb_tool_output_is_cut_with_a_marker_and_its_size(store: Store) -> None:
    big = "0123456789" * (1024 * 1024)
    event = {"name": "gen_ai.tool.result", "timestamp": 1_500, "attributes": {"output": big}}
    record = span(
        sid(1),
        name="execute_tool dump",
        events=[event],
        **{
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "dump",
            "gen_ai.tool.call.result": big,
        },
    )
    store.ingest([record])
    (stored,) = store.spans(trace_id=TRACE)
    attributes = stored["attributes"]
    value = attributes["gen_ai.tool.call.result"]
    assert value == big[:DEFAULT_MAX_ATTRIBUTE_CHARS] + truncation_marker(len(big))
    assert attributes["agentel.truncated.attributes"] == ["gen_ai.tool.call.result"]
    assert attributes["agentel.truncated.sizes"] == [10 * 1024 * 1024]
    (stored_event,) = stored["events"]
    assert stored_event["attributes"]["output"].endswith(truncation_marker(len(big)))
    assert stored_event["attributes"]["agentel.truncated.sizes"] == [len(big)]
    assert stored["tool_name"] == "dump"


def test_a_10_mb_attribute_through_the_sdk_and_the_sqlite_exporter(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    exporter = SQLiteSpanExporter(url)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(RunIdSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    big = "y" * (10 * 1024 * 1024)
    tracer = provider.get_tracer("faults")
    with (
        tracer.start_as_current_span("invoke_agent a", attributes=AGENT),
        tracer.start_as_current_span(
            "execute_tool read", attributes={"gen_ai.operation.name": "execute_tool"}
        ) as tool,
    ):
        tool.set_attribute("gen_ai.tool.call.result", big)
    provider.shutdown()
    assert exporter.failed_spans == 0
    with open_store(url) as store:
        (run,) = store.runs()
        tool_span = next(
            s for s in store.spans(run_id=run["run_id"]) if s["name"] == "execute_tool read"
        )
    assert tool_span["attributes"]["agentel.truncated.sizes"] == [len(big)]
    assert (
        len(tool_span["attributes"]["gen_ai.tool.call.result"]) < DEFAULT_MAX_ATTRIBUTE_CHARS + 64
    )
    assert (run["status"], run["tool_calls"]) == ("ok", 1)


def test_invalid_utf8_and_lone_surrogates_are_repaired(store: Store) -> None:
    invalid = b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape")  # how Python sees it
    lone = "half \ud83d of an emoji"
    record = span(
        sid(1),
        name=f"tool {invalid}",
        status_message=lone,
        events=[{"name": f"event {lone}", "timestamp": 1_500, "attributes": {lone: invalid}}],
        **{f"key {lone}": lone, "list": [invalid, "fine"], "raw": b"\xc3\x28"},
    )
    store.ingest([record, span(sid(2), sid(1), name="ok child")])
    spans = {s["span_id"]: s for s in store.spans(trace_id=TRACE)}
    assert set(spans) == {sid(1), sid(2)}
    stored = spans[sid(1)]
    strict_json(stored)  # no surrogate is left anywhere
    assert stored["name"] == "tool caf\ufffd \ufffd\ufffd"
    assert stored["status_message"] == "half \ufffd of an emoji"
    assert stored["attributes"]["key half \ufffd of an emoji"] == "half \ufffd of an emoji"
    assert stored["events"][0]["name"] == "event half \ufffd of an emoji"


def test_a_span_tree_10000_levels_deep(store: Store) -> None:
    depth = 10_000
    records = [span(sid(0), None, start=0, end=10 * depth, **AGENT)]
    for i in range(1, depth):
        attrs = CHAT if i == depth - 1 else {}
        records.append(span(sid(i), sid(i - 1), start=i, end=10 * depth - i, **attrs))
    records.reverse()  # the deepest spans end, and are exported, first
    store.ingest(records)
    store.ingest(records[:10])  # and a re-delivered batch touching the whole run
    (run,) = store.runs()
    assert (run["run_id"], run["span_count"], run["llm_calls"]) == (TRACE + sid(0), depth, 1)
    assert (run["input_tokens"], run["status"]) == (100, "ok")
    (root,) = store.trace(TRACE)
    levels, node = 1, root
    while node["children"]:
        (node,) = node["children"]
        levels += 1
    assert levels == depth


def test_cycles_and_missing_parents_in_foreign_data(store: Store) -> None:
    # a -> b -> c -> a is a cycle; d's parent never arrives; e hangs under d
    records = [
        span(sid(1), sid(3), start=1, **AGENT),
        span(sid(2), sid(1), start=2, **CHAT),
        span(sid(3), sid(2), start=3),
        span(sid(4), "f" * 16, start=4),
        span(sid(5), sid(4), start=5, **CHAT),
    ]
    store.ingest(records[:2])
    store.ingest(records[2:])
    assert len(store.spans(trace_id=TRACE)) == 5
    placed: list[str] = []
    pending = store.trace(TRACE)
    while pending:
        node = pending.pop()
        placed.append(node["span_id"])
        pending.extend(node["children"])
    assert sorted(placed) == [sid(i) for i in range(1, 6)]  # each span exactly once
    runs = store.runs()
    assert sum(r["span_count"] for r in runs) == 5
    assert sum(r["input_tokens"] for r in runs) == 200  # both LLM spans counted once


def test_duplicate_spans_are_stored_once(store: Store) -> None:
    first = span(sid(1), RUN, name="first", **CHAT)
    again = span(sid(1), RUN, name="again", **CHAT)
    unfinished = span(sid(1), RUN, name="live copy", end=None, **CHAT)
    store.ingest([span(RUN, **AGENT), first, first, again])
    store.ingest([again, unfinished])  # re-delivery, and a stale unfinished copy
    spans = {s["span_id"]: s for s in store.spans(trace_id=TRACE)}
    assert len(store.spans(trace_id=TRACE)) == 2
    assert spans[sid(1)]["name"] == "again" and spans[sid(1)]["end_time"] is not None
    (run,) = store.runs()
    assert (run["span_count"], run["llm_calls"], run["input_tokens"]) == (2, 1, 100)


def test_end_earlier_than_start(store: Store) -> None:
    store.ingest([span(RUN, start=5_000, end=1_000, **AGENT), span(sid(1), RUN, **CHAT)])
    (stored,) = [s for s in store.spans(trace_id=TRACE) if s["span_id"] == RUN]
    assert stored["duration_ms"] == 0
    (run,) = store.runs()
    assert run["duration_ms"] == 0 and run["status"] == "ok" and run["llm_calls"] == 1


# --- fuzzing ---------------------------------------------------------------------------------

_KEYS = [
    *sorted(a["name"] for a in load_registry()["attributes"]),
    "llm.token_count.prompt",
    "llm.token_count.completion",
    "openinference.span.kind",
    "gen_ai.usage.prompt_tokens",
    "langfuse.observation.usage_details",
    "langfuse.observation.cost_details",
    "traceloop.span.kind",
]
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=8)
    | st.sampled_from(["chat", "invoke_agent", "execute_tool", "embeddings", "{}", '{"a":1}'])
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_ATTRIBUTES = st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=12), _VALUES, max_size=8)
_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(name=st.text(), kind=st.sampled_from(["client", "internal"]) | st.text(), attrs=_ATTRIBUTES)
def test_normalize_never_raises(name: str, kind: str, attrs: dict[str, Any]) -> None:
    fields = normalize(name, kind, attrs)
    assert fields["category"] in {
        "agent",
        "workflow",
        "llm",
        "embedding",
        "tool",
        "retrieval",
        "other",
    }


_SPANS = st.lists(
    st.tuples(
        st.integers(0, 7),  # span id
        st.none() | st.integers(0, 8),  # parent id (8 never exists; self and cycles allowed)
        st.integers(-(2**63), 2**63 - 1),  # start
        st.none() | st.integers(-(2**63), 2**63 - 1),  # end
        st.text(max_size=10),  # name
        _ATTRIBUTES,
    ),
    max_size=10,
)


@pytest.fixture(scope="module")
def fuzz_stores(tmp_path_factory) -> list[Store]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    stores = [MemoryStore(), open_store(f"sqlite:///{path}")]
    yield stores
    for opened in stores:
        opened.close()


@_FUZZ
@given(spans=_SPANS, batches=st.integers(1, 3))
def test_ingest_stores_every_distinct_span(fuzz_stores: list[Store], spans, batches: int) -> None:
    trace_id = uuid.uuid4().hex  # a fresh trace per example in the shared stores
    records = [
        build_span_record(
            trace_id=trace_id,
            span_id=sid(s),
            parent_span_id=None if p is None else sid(p),
            name=name,
            kind="internal",
            start_ns=start,
            end_ns=end,
            status="unset",
            status_message=None,
            attributes=attrs,
        )
        for s, p, start, end, name, attrs in spans
    ]
    size = max(1, len(records) // batches)
    for target in fuzz_stores:
        for i in range(0, len(records), size):
            target.ingest(records[i : i + size])
        stored = target.spans(trace_id=trace_id)
        assert sorted(s["span_id"] for s in stored) == sorted({r.span_id for r in records})
        for run in target.runs(limit=None):
            strict_json(run)
