"""OTLP/JSON traces <-> store records, for ``agentel import``/``export`` and the OTLP receiver.

Follows the OTLP JSON encoding: hex trace and span ids, integers as strings or numbers,
enums as numbers or names, ``AnyValue`` wrappers for attributes. Decoding is forgiving per
span: one malformed span is reported and skipped, never the whole request.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from typing import Any

from agentel.store.records import SpanRecord, build_span_record

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_CODES = ("unset", "ok", "error")


def _enum(value: Any, names: tuple[str, ...], prefix: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    if isinstance(value, str):
        name = value.lower().removeprefix(prefix)
        if name in names:
            return name
        if value.isdigit():
            return _enum(int(value), names, prefix)
    return names[0]


def any_value(wrapped: Any) -> Any:
    """The plain Python value of an OTLP ``AnyValue`` object."""
    if not isinstance(wrapped, Mapping) or not wrapped:
        return None
    key, value = next(iter(wrapped.items()))
    if key == "stringValue":
        return str(value)
    if key == "boolValue":
        return bool(value)
    if key == "intValue":
        return int(value)
    if key == "doubleValue":
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if key == "arrayValue":
        return [any_value(v) for v in (value or {}).get("values", [])]
    if key == "kvlistValue":
        return key_values((value or {}).get("values", []))
    if key == "bytesValue":
        return base64.b64decode(value).hex()
    return None


def key_values(items: Iterable[Any] | None) -> dict[str, Any]:
    """``[{"key": k, "value": AnyValue}, ...]`` as a dict."""
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            out[item["key"]] = any_value(item.get("value"))
    return out


def _hex_id(value: Any, length: int, what: str) -> str:
    """A lowercase hex id; base64 (protobuf's generic JSON mapping of bytes) is accepted too."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a hex string, got {type(value).__name__}")
    text = value.strip().lower()
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            raw = b""
        if len(raw) * 2 != length:
            raise ValueError(f"{what} {value!r} is not {length} hex digits")
        text = raw.hex()
    if set(text) == {"0"}:
        raise ValueError(f"{what} is all zeros")
    return text


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} {str(value)[:40]!r} is not an integer") from None


def _span(raw: Mapping[str, Any], resource: dict[str, Any], scope: str | None) -> SpanRecord:
    parent = raw.get("parentSpanId") or None
    status = raw.get("status") or {}
    return build_span_record(
        trace_id=_hex_id(raw.get("traceId"), 32, "traceId"),
        span_id=_hex_id(raw.get("spanId"), 16, "spanId"),
        parent_span_id=_hex_id(parent, 16, "parentSpanId") if parent else None,
        name=str(raw.get("name") or ""),
        kind=_enum(raw.get("kind", 0), SPAN_KINDS, "span_kind_"),
        start_ns=_nanos(raw.get("startTimeUnixNano", 0), "startTimeUnixNano"),
        end_ns=_nanos(raw["endTimeUnixNano"], "endTimeUnixNano")
        if raw.get("endTimeUnixNano") not in (None, "", 0, "0")
        else None,
        status=_enum(status.get("code", 0), STATUS_CODES, "status_code_"),
        status_message=status.get("message") or None,
        attributes=key_values(raw.get("attributes")),
        events=[
            {
                "name": e.get("name", ""),
                "timestamp": _nanos(e.get("timeUnixNano", 0), "event timeUnixNano"),
                "attributes": key_values(e.get("attributes")),
            }
            for e in raw.get("events") or []
        ],
        links=[
            {
                "trace_id": link.get("traceId"),
                "span_id": link.get("spanId"),
                "attributes": key_values(link.get("attributes")),
            }
            for link in raw.get("links") or []
        ],
        resource=resource,
        scope=scope,
    )


def _objects(container: Mapping[str, Any], key: str, where: str, errors: list[str]) -> list[Any]:
    """The objects in ``container[key]``; a non-list or a non-object entry is reported."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"{where}{key} is a {type(value).__name__}, not a list")
        return []
    objects = []
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            objects.append(item)
        else:
            errors.append(f"{where}{key}[{index}] is a {type(item).__name__}, not an object")
    return objects


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def decode(document: Mapping[str, Any]) -> tuple[list[SpanRecord], list[str]]:
    """Records from one ``ExportTraceServiceRequest`` JSON document, and one message per bad span.

    Any shape is accepted: an entry that is not an object, a span with an id, time or value
    that cannot be used (``1e400``, nesting beyond Python's limits) is reported and skipped,
    and every valid span beside it is kept.
    """
    records: list[SpanRecord] = []
    errors: list[str] = []
    if not isinstance(document, Mapping):
        return [], [f"expected a JSON object with resourceSpans, got {type(document).__name__}"]
    for r, resource_spans in enumerate(_objects(document, "resourceSpans", "", errors)):
        where = f"resourceSpans[{r}]."
        try:
            resource = key_values(_mapping(resource_spans.get("resource")).get("attributes"))
        except Exception as exc:
            errors.append(f"{where}resource: {exc!r:.200}")
            resource = {}
        for s, scope_spans in enumerate(_objects(resource_spans, "scopeSpans", where, errors)):
            scope = _mapping(scope_spans.get("scope")).get("name")
            scope = scope if isinstance(scope, str) else None
            for raw in _objects(scope_spans, "spans", f"{where}scopeSpans[{s}].", errors):
                try:
                    records.append(_span(raw, resource, scope))
                except Exception as exc:
                    errors.append(f"span {str(raw.get('name'))[:80]!r}: {str(exc)[:200]}")
    return records, errors


def to_any_value(value: Any) -> dict[str, Any]:
    """A plain value as an OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [to_any_value(v) for v in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": to_key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def to_key_values(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A dict as OTLP ``KeyValue`` list."""
    return [{"key": k, "value": to_any_value(v)} for k, v in values.items()]


def encode(records: Iterable[SpanRecord]) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` JSON document for the given records.

    Spans are grouped by resource and scope; a collector's OTLP/JSON receiver or
    ``agentel import`` reads it back to the same records.
    """
    groups: dict[str, tuple[dict[str, Any], dict[str | None, list[dict[str, Any]]]]] = {}
    for record in records:
        key = repr(sorted(record.resource.items()))
        scopes = groups.setdefault(key, (record.resource, {}))[1]
        scopes.setdefault(record.scope, []).append(_encode_span(record))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": to_key_values(resource)},
                "scopeSpans": [
                    {"scope": {"name": scope or ""}, "spans": spans}
                    for scope, spans in scopes.items()
                ],
            }
            for resource, scopes in groups.values()
        ]
    }


def _encode_span(record: SpanRecord) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": record.trace_id,
        "spanId": record.span_id,
        "name": record.name,
        "kind": SPAN_KINDS.index(record.kind) if record.kind in SPAN_KINDS else 0,
        "startTimeUnixNano": str(record.start_ns),
        "attributes": to_key_values(record.attributes),
        "status": {"code": STATUS_CODES.index(record.status)},
    }
    if record.parent_span_id:
        span["parentSpanId"] = record.parent_span_id
    if record.end_ns is not None:
        span["endTimeUnixNano"] = str(record.end_ns)
    if record.status_message:
        span["status"]["message"] = record.status_message
    if record.events:
        span["events"] = [
            {
                "timeUnixNano": str(e.get("timestamp") or 0),
                "name": e.get("name", ""),
                "attributes": to_key_values(e.get("attributes") or {}),
            }
            for e in record.events
        ]
    if record.links:
        span["links"] = [
            {
                "traceId": link.get("trace_id"),
                "spanId": link.get("span_id"),
                "attributes": to_key_values(link.get("attributes") or {}),
            }
            for link in record.links
        ]
    return span
