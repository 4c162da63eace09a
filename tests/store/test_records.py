"""Record building: every field lands where its name says, whatever the construction path."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from agentel.semconv import attributes as A
from agentel.semconv.normalize import normalize
from agentel.store.records import SpanRecord, build_span_record, iso_time
from agentel.store.sqlite import _span_row

ATTRIBUTES = {
    A.GEN_AI_OPERATION_NAME: "chat",
    A.GEN_AI_PROVIDER_NAME: "openai",
    A.GEN_AI_REQUEST_MODEL: "gpt-4o",
    A.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
    A.GEN_AI_CONVERSATION_ID: "conv",
    A.USER_ID: "user",
    A.ERROR_TYPE: "Timeout",
    A.GEN_AI_AGENT_NAME: "agent",
    A.GEN_AI_TOOL_NAME: "tool",
    A.GEN_AI_TOOL_CALL_ID: "call",
    A.AGENTEL_ITERATION: 3,
    A.AGENTEL_RUN_ID: "e" * 16,
    A.GEN_AI_USAGE_INPUT_TOKENS: 100,
    A.GEN_AI_USAGE_OUTPUT_TOKENS: 50,
    A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 40,
    A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 30,
    A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 20,
    A.GEN_AI_USAGE_COST: 0.5,
    A.AGENTEL_COST_INPUT: 0.25,
    A.AGENTEL_COST_SOURCE: "catalog",
    A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.125,
    A.AGENTEL_OUTPUT_TOKENS_PER_SECOND: 42.0,
}


def test_build_span_record_sets_every_field_by_name():
    parts = {
        "trace_id": "d" * 32,
        "span_id": "s" * 16,
        "parent_span_id": "p" * 16,
        "name": "chat gpt-4o",
        "kind": "client",
        "start_ns": 1,
        "end_ns": 2,
        "status": "error",
        "status_message": "failed",
        "attributes": ATTRIBUTES,
        "events": [{"name": "e", "timestamp": 1, "attributes": {}}],
        "links": [{"trace_id": "a" * 32, "span_id": "b" * 16, "attributes": {}}],
        "resource": {"service.name": "svc"},
        "scope": "scope",
    }
    record = build_span_record(**parts)
    norm = normalize(parts["name"], parts["kind"], ATTRIBUTES)
    expected = SpanRecord(
        **parts,
        **{**norm, "run_id": "d" * 32 + "e" * 16},  # a bare span id names a run of this trace
        request_model="gpt-4o",  # the response model is the dated gpt-4o-2024-08-06
        run_id_stamped=True,
        service_name="svc",
    )
    assert record == expected
    # each normalized field is distinct, so a field put in another's place would show
    assert len({repr(getattr(record, f.name)) for f in fields(SpanRecord)}) >= 35
    assert _span_row(record)[[f.name for f in fields(SpanRecord)].index("model")] == (
        "gpt-4o-2024-08-06"
    )


def _reference_iso(ns: int) -> str:
    """What iso_time gave before it cached the date and time of day per second."""
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


EDGES = [0, 1, 499, 500, 501, 999, 1000, 1500, 2500, 10**9 - 500, 10**9 - 499, 10**9]
EDGES.append(253_402_300_799 * 10**9)  # the last second datetime can show


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.sampled_from(EDGES),
        st.integers(0, 253_402_300_799 * 10**9),
        st.integers(1_700_000_000 * 10**9, 1_900_000_000 * 10**9),
        st.integers(1_764_000_000_000_000, 1_764_000_100_000_000).map(lambda us: us * 1000 + 500),
    )
)
def test_iso_time_is_the_datetime_spelling(ns):
    assert iso_time(ns) == _reference_iso(ns)
