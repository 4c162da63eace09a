"""Turn the SDK's ReadableSpan into a store record (outside any lock, on the export thread)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from agentel.store.records import SpanRecord, build_span_record

_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _attrs(attributes: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in attributes.items()} if attributes else {}


def record_from_span(span: ReadableSpan) -> SpanRecord:
    """The store record of one finished SDK span."""
    ctx = span.context
    parent = span.parent
    scope = span.instrumentation_scope
    return build_span_record(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        kind=span.kind.name.lower(),
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status=_STATUS.get(span.status.status_code, "unset"),
        status_message=span.status.description,
        attributes=_attrs(span.attributes),
        events=[
            {"name": e.name, "timestamp": e.timestamp, "attributes": _attrs(e.attributes)}
            for e in span.events
        ],
        links=[
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
                "attributes": _attrs(link.attributes),
            }
            for link in span.links
        ],
        resource=_attrs(span.resource.attributes),
        scope=scope.name if scope is not None else None,
    )
