"""Opt-in message content: redaction, size caps and where it is recorded.

Captured values use the official GenAI JSON shapes (parts-based messages, see
``gen_ai.input.messages``). Every text in them passes the redaction hook first; structural
fields (role, part type, tool call id and name, finish reason) are kept as they are. Each
attribute's JSON is then capped at ``max_content_chars``, with :data:`TRUNCATION_MARKER`
appended when it was cut (a truncated value is no longer valid JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import Span

from agentel.semconv import attributes as A

from ._common import log_once
from ._config import InstrumentationConfig, Redactor

TRUNCATION_MARKER = "...[agentel: truncated {dropped} chars]"
"""Appended to a captured value cut at ``AGENTEL_MAX_CONTENT_CHARS``."""

# Keys of a message, part or tool definition whose values are structure, not content.
_STRUCTURAL = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})


def _deep(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _deep(item, redact) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_deep(item, redact) for item in value]
    return value


def _entry(value: Any, redact: Redactor) -> Any:
    """Redact one message / part / tool definition, keeping its structural fields."""
    if not isinstance(value, Mapping):
        return _deep(value, redact)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _STRUCTURAL and (item is None or isinstance(item, str)):
            out[key] = item
        elif key == "parts" and isinstance(item, (list, tuple)):
            out[key] = [_entry(part, redact) for part in item]
        else:
            out[key] = _deep(item, redact)
    return out


def redacted(value: Any, redact: Redactor | None) -> Any:
    """``value`` (a list of messages, parts or tool definitions, or a text) after ``redact``."""
    if redact is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_entry(item, redact) for item in value]
    return _entry(value, redact)


def cap(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, with the truncation marker when it was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATION_MARKER.format(dropped=len(text) - limit)


def encode(value: Any, config: InstrumentationConfig) -> str | None:
    """The attribute value for captured ``value``: redacted, JSON (texts stay plain), capped.

    ``None`` when there is nothing to record or the redaction hook failed (fail closed: content
    that could not be redacted is never recorded).
    """
    if value is None:
        return None
    try:
        value = redacted(value, config.redact)
    except Exception:
        log_once("content.redact", "the redaction hook raised; this content is not recorded")
        return None
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            log_once("content.encode", "could not encode captured content as JSON")
            return None
    return cap(value, config.max_content_chars)


def record_content(span: Span, config: InstrumentationConfig, content: Mapping[str, Any]) -> None:
    """Record captured ``content`` (attribute key -> value) where ``config`` says. Never raises."""
    try:
        if not content or not span.is_recording():
            return
        encoded: dict[str, str] = {}
        for key, value in content.items():
            text = encode(value, config)
            if text is not None:
                encoded[key] = text
        if not encoded:
            return
        if config.content_on_span:
            span.set_attributes(encoded)
        if config.content_on_event:
            span.add_event(A.EVENT_INFERENCE_DETAILS, encoded)
    except Exception:
        log_once("content.record", "could not record captured content")
