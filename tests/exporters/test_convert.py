"""The SDK exporter's conversion fast path gives the same record as the general path."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.exporters._convert import record_from_span
from agentel.store.records import build_span_record
from agentel.store.sanitize import prepare_attributes

TEXT = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="ab\u00e9\ud800\udfff", max_size=8),  # non-ASCII and lone surrogates
    st.just("x" * 300_000),  # over the default AGENTEL_MAX_ATTRIBUTE_CHARS cap
)
SCALAR = st.one_of(
    TEXT,
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=4),
)
VALUE = st.one_of(SCALAR, st.lists(TEXT, max_size=3), st.lists(st.integers(), max_size=3))
KEYS = st.one_of(
    st.sampled_from(
        [
            "gen_ai.operation.name",
            "gen_ai.request.model",
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.cost",
            "agentel.cost.input",
            "gen_ai.response.finish_reasons",
        ]
    ),
    st.text(min_size=1, max_size=6),
)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to itself (a NaN cost part survives as NaN nowhere,
    but compare defensively)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@settings(max_examples=200, deadline=None)
@given(attributes=st.dictionaries(KEYS, VALUE, max_size=8))
def test_sdk_span_record_equals_the_general_path(attributes: dict[str, Any]) -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("chat m", attributes=attributes).end()
    (span,) = exporter.get_finished_spans()

    fast = record_from_span(span)
    plain = {k: list(v) if isinstance(v, tuple) else v for k, v in span.attributes.items()}
    ctx = span.context
    general = build_span_record(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=None,
        name=span.name,
        kind="internal",
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status="unset",
        status_message=None,
        attributes=plain,
        resource=fast.resource,
        scope=fast.scope,
    )
    assert fast.attributes.keys() == general.attributes.keys()
    assert all(_same(fast.attributes[k], general.attributes[k]) for k in fast.attributes)
    assert {k: v for k, v in fast.to_dict().items() if k != "attributes"} == {
        k: v for k, v in general.to_dict().items() if k != "attributes"
    }


def test_prepare_attributes_turns_tuples_into_lists_and_flags_what_needs_cleaning() -> None:
    plain = {"a": ("x", "y"), "b": 1, "c": 0.5, "d": True}
    assert prepare_attributes(plain) is True
    assert plain == {"a": ["x", "y"], "b": 1, "c": 0.5, "d": True}
    for needs_work in ({"s": "caf\u00e9"}, {"f": float("nan")}, {"t": ("\ud800",)}, {1: "x"}):
        assert prepare_attributes(dict(needs_work)) is False
