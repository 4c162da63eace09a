"""``RunIdSpanProcessor``: stamps ``agentel.run.id`` on every span inside an agent run at start."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agentel.semconv.attributes import AGENTEL_RUN_ID, GEN_AI_OPERATION_NAME
from agentel.semconv.normalize import RUN_OPERATIONS


class RunIdSpanProcessor(SpanProcessor):
    """Copy the run id from the parent span, or start a run at a top-most agent/workflow span.

    Reading the parent at start means spans of third-party instrumentations inside a run
    carry the run id too, so the store never has to walk ancestors for our own traces.
    Spans outside any agent are left unstamped and resolved at ingest.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        parent = trace.get_current_span(parent_context)
        attributes = getattr(parent, "attributes", None)
        run_id = attributes.get(AGENTEL_RUN_ID) if attributes else None
        if run_id is None:
            own = span.attributes or {}
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
