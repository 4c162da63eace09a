"""Turn the SDK's ReadableSpan into a store record (outside any lock, on the export thread)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from agentel.store.records import SpanRecord, build_span_record

_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}
_KINDS = {kind: kind.name.lower() for kind in SpanKind}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _attrs(attributes: Any) -> dict[str, Any]:
    """A plain dict of SDK attributes, sequences (tuples) as lists, like JSON gives them back."""
    if not attributes:
        return {}
    # the SDK hands out a read-only proxy over BoundedAttributes, whose copy() is a dict copy
    copy = getattr(attributes, "copy", None)
    plain = copy() if copy is not None else dict(attributes)
    if type(plain) is not dict:
        plain = dict(plain)
    if tuple in map(type, plain.values()):
        for key, value in plain.items():
            if type(value) is tuple:
                plain[key] = list(value)
    return plain


_resources: dict[int, tuple[Any, dict[str, Any]]] = {}


def _resource(resource: Any) -> dict[str, Any]:
    """A resource's attributes, converted once per resource object (every span shares it)."""
    held = _resources.get(id(resource))
    if held is not None and held[0] is resource:
        return held[1]
    attributes = _attrs(resource.attributes)
    if len(_resources) >= 64:
        _resources.clear()
    _resources[id(resource)] = (resource, attributes)
    return attributes


def record_from_span(span: ReadableSpan) -> SpanRecord:
    """The store record of one finished SDK span (its ``resource`` dict is shared, read-only)."""
    ctx = span.context
    parent = span.parent
    scope = span.instrumentation_scope
    status = span.status
    events = span.events
    links = span.links
    return build_span_record(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        kind=_KINDS.get(span.kind) or span.kind.name.lower(),
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status=_STATUS.get(status.status_code, "unset"),
        status_message=status.description,
        attributes=_attrs(span.attributes),
        events=[
            {"name": e.name, "timestamp": e.timestamp, "attributes": _attrs(e.attributes)}
            for e in events
        ]
        if events
        else None,
        links=[
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
                "attributes": _attrs(link.attributes),
            }
            for link in links
        ]
        if links
        else None,
        resource=_resource(span.resource),
        scope=scope.name if scope is not None else None,
    )
