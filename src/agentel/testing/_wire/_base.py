"""What every wire format shares: the resolved turn, SSE events and the format registry.

A provider's dialect is one module in this package that builds a :class:`WireFormat` and
passes it to :func:`register`; the HTTP server routes requests by the registered routes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._script import ToolCall, Usage

DEFAULT_MODEL = "scripted-model"
SYSTEM_FINGERPRINT = "fp_agentel_scripted"

Event = tuple[str | None, Any]
"""An SSE event: (event name or None, JSON-able data or the literal string "[DONE]")."""

Parsed = tuple[list[str], list[tuple[str, str]], list[Any]]
"""A request read by a format: every message text, the (``user`` | ``tool``, text) turns in
order, and the callable function tools as (name, JSON schema of the arguments)."""


@dataclass
class Turn:
    """A reply resolved against one request."""

    api: str
    seq: int
    created: int
    model: str
    body: dict[str, Any]
    text: str | None
    calls: tuple[ToolCall, ...]
    thinking: str | None
    finish_reason: str
    usage: Usage

    @property
    def choices(self) -> int:
        n = self.body.get("n")
        return n if isinstance(n, int) and n > 1 else 1


@dataclass(frozen=True)
class WireFormat:
    """One provider dialect: the routes it serves, how it reads requests and writes replies."""

    api: str
    """The dialect's name, as passed to ``estimate_usage`` and ``Reply.resolved_finish_reason``."""
    routes: tuple[str, ...]
    """POST routes (without the optional ``/v1`` prefix) that generate a reply."""
    parse: Callable[[dict[str, Any]], Parsed]
    render: Callable[[Turn], dict[str, Any]]
    """The non-streamed response body."""
    render_stream: Callable[[Turn], list[Event]]
    """The SSE events of a streamed response (``"stream": true``)."""
    error_body: Callable[[int, str, str | None], dict[str, Any]]
    """``(status, message, error type or None) -> body`` of an error response."""
    finish_reasons: Mapping[str, str]
    """Scripted finish reasons translated into this dialect (others pass through)."""
    extra_routes: Mapping[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    """Other POST routes answered with the JSON the callable returns for the request body."""
    marker_header: str | None = None
    """A request header that marks this dialect on any route (for the error body of a 404)."""
    paths: tuple[PathRoute, ...] = ()
    """Routes with the model in the path (Gemini, Bedrock), tried before ``routes``."""
    embed: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    """``(action, body) -> answer`` of the ``"embed"`` path routes."""
    tools: Callable[[dict[str, Any]], list[Any]] | None = None
    """The tool definitions of a request (default: its ``tools`` list), for token estimates."""
    tool_choice: Callable[[dict[str, Any]], Any] | None = None
    """The request's tool choice in chat terms (default: its ``tool_choice``), for AUTO."""
    stream_frame: Callable[[Event], bytes] | None = None
    """Encodes one stream event on the wire (default: an SSE ``data:`` frame)."""
    stream_content_type: str = "text/event-stream; charset=utf-8"
    error_headers: Callable[[int, str | None], dict[str, str]] | None = None
    """Extra headers of an error response (e.g. Bedrock's ``x-amzn-ErrorType``)."""
    response_headers: Callable[[Turn], dict[str, str]] | None = None
    """Extra headers of a non-streamed answer (e.g. Bedrock's token-count headers)."""


@dataclass(frozen=True)
class PathRoute:
    """A route matched by a regular expression on the whole path (query excluded).

    The pattern's ``model`` group, when present (URL-decoded), becomes the request body's
    ``"model"``; its ``action`` group, when present, is passed to the format's ``embed``.
    ``kind`` is ``"generate"``, ``"stream"`` (always streamed), ``"auto"`` (streamed when
    the body says ``"stream": true``) or ``"embed"``.
    """

    pattern: re.Pattern[str]
    kind: str


WIRE_FORMATS: dict[str, WireFormat] = {}
"""Every registered format by ``api`` name, in registration order."""


def register(fmt: WireFormat) -> WireFormat:
    """Add a format to the server's routing table (one call per provider module)."""
    WIRE_FORMATS[fmt.api] = fmt
    return fmt


def words(text: str) -> list[str]:
    """Split text into word-sized deltas whose concatenation is the text."""
    return re.findall(r"\S+\s*|\s+", text)


def pieces(text: str, size: int = 12) -> list[str]:
    """Split text into fixed-size deltas (tool-call arguments)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def call_id(prefix: str, seq: int, index: int, call: ToolCall) -> str:
    """The scripted call's id, or a deterministic one derived from the turn and position."""
    if call.id:
        return call.id
    digest = hashlib.sha256(f"{seq}:{index}:{call.name}".encode()).hexdigest()
    return f"{prefix}{digest[:24]}"


def signature(thinking: str) -> str:
    """A deterministic stand-in for a thinking block's signature."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()
