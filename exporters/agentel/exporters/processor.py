"""``RunIdSpanProcessor``: stamps ``agentel.run.id`` on every span inside an agent run at start."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agentel.semconv.attributes import (
    AGENTEL_ITERATION,
    AGENTEL_RUN_ID,
    BAGGAGE_RUN_ID,
    CONTEXT_ITERATION_KEY,
    GEN_AI_OPERATION_NAME,
)
from agentel.semconv.normalize import RUN_OPERATIONS

_HEX = frozenset("0123456789abcdef")


def _is_run_id(value: object) -> bool:
    """Run ids are span ids: 16 lowercase hex digits (baggage may come from anywhere)."""
    return isinstance(value, str) and len(value) == 16 and set(value) <= _HEX


class RunIdSpanProcessor(SpanProcessor):
    """Copy the run id from the parent span, or start a run at a top-most agent/workflow span.

    Reading the parent at start means spans of third-party instrumentations inside a run
    carry the run id too, so the store never has to walk ancestors for our own traces.
    When the parent lives in another process (a remote parent extracted from ``traceparent``),
    the run id comes from the ``agentel.run.id`` W3C baggage entry sent along with it, so a
    run spanning processes and services stays one run. Spans inside an ``iteration()`` pass
    get its index as ``agentel.iteration``. Spans outside any agent are left unstamped and
    resolved at ingest.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        own = span.attributes or {}
        iteration = otel_context.get_value(CONTEXT_ITERATION_KEY, parent_context)
        if isinstance(iteration, int) and AGENTEL_ITERATION not in own:
            span.set_attribute(AGENTEL_ITERATION, iteration)
        parent = trace.get_current_span(parent_context)
        attributes = getattr(parent, "attributes", None)
        run_id = attributes.get(AGENTEL_RUN_ID) if attributes else None
        if run_id is None and parent.get_span_context().is_remote:
            entry = baggage.get_baggage(BAGGAGE_RUN_ID, parent_context)
            run_id = entry if _is_run_id(entry) else None
        if run_id is None:
            if own.get(GEN_AI_OPERATION_NAME) not in RUN_OPERATIONS:
                return
            run_id = format(span.context.span_id, "016x")
        span.set_attribute(AGENTEL_RUN_ID, run_id)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True
