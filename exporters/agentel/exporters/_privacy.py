"""Exception messages are content: with content capture off they never leave the process.

A tool's ``ValueError`` often quotes its argument, and the SDK copies the message into the
span's status description and into the ``exception`` event (``exception.message`` and the
last line of ``exception.stacktrace``). ``redact_exceptions`` returns a span that keeps the
exception type and the stack trace's frames (file, line, function, source line) and
replaces every message with ``REDACTED``. The store exporter and the OTLP exporter that
``configure()`` sets up apply it unless content capture is on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from agentel.semconv.content_mode import mode_from_env

REDACTED = "[redacted: content capture is off]"
_TYPE_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")
_FRAME_PREFIXES = ("Traceback ", "  File ", "    ", "During handling", "The above exception")


def content_capture_from_env() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` turns content on."""
    on_span, on_event = mode_from_env()
    return on_span or on_event


def _redact_line(line: str) -> str | None:
    """An exception line ``Type: message`` as ``Type: REDACTED``; None for other text."""
    match = _TYPE_LINE.match(line)
    return f"{match.group(1)}: {REDACTED}" if match else None


def redact_traceback(text: str) -> str:
    """A formatted traceback with its frames kept and every exception message replaced."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(_FRAME_PREFIXES):
            lines.append(line)
        elif (redacted := _redact_line(line)) is not None and redacted not in lines[-1:]:
            lines.append(redacted)
    return "\n".join(lines)


def _redact_status(description: str, exception_type: str | None) -> str:
    if exception_type:
        return f"{exception_type.rsplit('.', 1)[-1]}: {REDACTED}"
    return _redact_line(description.splitlines()[0] if description else "") or REDACTED


def redact_exceptions(span: ReadableSpan) -> ReadableSpan:
    """``span`` with exception messages redacted, or ``span`` itself when it holds none."""
    description = span.status.description
    if not description and not any(e.name == "exception" for e in span.events):
        return span
    exception_type = None
    events = []
    for event in span.events:
        if event.name != "exception":
            events.append(event)
            continue
        attributes = dict(event.attributes or {})
        exception_type = exception_type or attributes.get("exception.type")
        if "exception.message" in attributes:
            attributes["exception.message"] = REDACTED
        if isinstance(attributes.get("exception.stacktrace"), str):
            attributes["exception.stacktrace"] = redact_traceback(
                attributes["exception.stacktrace"]
            )
        events.append(Event(event.name, attributes, event.timestamp))
    status = span.status
    if description:
        status = Status(status.status_code, _redact_status(description, exception_type))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=events,
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Wraps an exporter (the OTLP one) so exception messages reach it redacted."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_exceptions(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)
