"""Turn the SDK's ReadableSpan into a store record (outside any lock, on the export thread)."""

from __future__ import annotations

import os
import socket
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, Span
from opentelemetry.trace import SpanKind, StatusCode

from agentel.store.records import SpanRecord, build_span_record
from agentel.store.sanitize import prepare_attributes

# keyed by id(): enum members are singletons, and an Enum's __hash__ is a Python call
_STATUS = {id(StatusCode.UNSET): "unset", id(StatusCode.OK): "ok", id(StatusCode.ERROR): "error"}
_KINDS = {id(kind): kind.name.lower() for kind in SpanKind}


def _attrs(attributes: Any) -> tuple[dict[str, Any], bool]:
    """A plain dict of SDK attributes, sequences (tuples) as lists like JSON gives them back,
    and whether it needs no sanitizing (checked in the same pass)."""
    if not attributes:
        return {}, True
    # the SDK hands out a read-only proxy over BoundedAttributes, whose copy() is a dict copy
    copy = getattr(attributes, "copy", None)
    plain = copy() if copy is not None else dict(attributes)
    if type(plain) is not dict:
        plain = dict(plain)
    return plain, prepare_attributes(plain)


_resources: dict[int, tuple[Any, dict[str, Any]]] = {}


def _resource(resource: Any) -> dict[str, Any]:
    """A resource's attributes, converted once per resource object (every span shares it)."""
    held = _resources.get(id(resource))
    if held is not None and held[0] is resource:
        return held[1]
    attributes = _attrs(resource.attributes)[0]
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
    # the public properties copy the SDK's lists into new tuples; most spans have nothing to
    # copy, which the SDK span's own (private) lists tell without a copy
    events = span.events if getattr(span, "_events", True) else None
    links = span.links if getattr(span, "_links", True) else None
    attributes, clean = _attrs(span.attributes)
    # "%032x" % n spells ids exactly as format(n, "032x") does, in half the time
    return build_span_record(
        trace_id="%032x" % ctx.trace_id,  # noqa: UP031
        span_id="%016x" % ctx.span_id,  # noqa: UP031
        parent_span_id="%016x" % parent.span_id if parent is not None else None,  # noqa: UP031
        name=span.name,
        kind=_KINDS.get(id(span.kind)) or span.kind.name.lower(),
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        status=_STATUS.get(id(status.status_code), "unset"),
        status_message=status.description,
        attributes=attributes,
        attributes_clean=clean,
        events=[
            {"name": e.name, "timestamp": e.timestamp, "attributes": _attrs(e.attributes)[0]}
            for e in events
        ]
        if events
        else None,
        links=[
            {
                "trace_id": "%032x" % link.context.trace_id,  # noqa: UP031
                "span_id": "%016x" % link.context.span_id,  # noqa: UP031
                "attributes": _attrs(link.attributes)[0],
            }
            for link in links
        ]
        if links
        else None,
        resource=_resource(span.resource),
        scope=scope.name if scope is not None else None,
    )


def live_record(span: Span, attributes: dict[str, Any], start_ns: int | None) -> SpanRecord:
    """The store record of a top span that has started but not ended."""
    ctx = span.context
    parent = span.parent
    resource = _attrs(span.resource.attributes)[0]  # a copy of its own, changed below
    # the process running the run now: a resource built before a fork names the parent
    resource["process.pid"] = os.getpid()
    resource.setdefault("host.name", socket.gethostname())
    scope = span.instrumentation_scope
    plain, clean = _attrs(attributes)
    return build_span_record(
        trace_id=format(ctx.trace_id, "032x"),
        span_id=format(ctx.span_id, "016x"),
        parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
        name=span.name,
        kind=span.kind.name.lower(),
        start_ns=start_ns or 0,
        end_ns=None,
        status="unset",
        status_message=None,
        attributes=plain,
        attributes_clean=clean,
        resource=resource,
        scope=scope.name if scope is not None else None,
    )
