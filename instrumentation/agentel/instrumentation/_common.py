"""Helpers shared by the manual API and every provider instrumentor.

Nothing here may raise into the user's code: attribute and cost work is best effort, and a
failure is logged once per site.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agentel.semconv import attributes as A
from agentel.semconv.pricing import default_pricebook

logger = logging.getLogger("agentel.instrumentation")

TRACER_NAME = "agentel.instrumentation"

_logged_sites: set[str] = set()
_logged_lock = threading.Lock()


@dataclass(frozen=True)
class Swallowed:
    """One problem ``log_once`` absorbed: where, what, and the exception being handled."""

    site: str
    message: str
    error: BaseException | None


_swallowed_sink: list[Swallowed] | None = None


def collect_swallowed(sink: list[Swallowed] | None) -> None:
    """Also append every problem ``log_once`` absorbs to ``sink`` (None stops collecting).

    Users never see these errors, by design; the test suite collects them so that a test
    fails when our own code swallowed an error it did not expect.
    """
    global _swallowed_sink
    _swallowed_sink = sink


def reset_logged_sites() -> None:
    """Forget which sites already logged, so the next problem at each logs a WARNING again."""
    with _logged_lock:
        _logged_sites.clear()


def log_once(site: str, message: str, *, exc_info: bool = True) -> None:
    """Log a problem in agentel's own code once per ``site`` (later repeats go to DEBUG)."""
    sink = _swallowed_sink
    if sink is not None:
        sink.append(Swallowed(site, message, sys.exc_info()[1] if exc_info else None))
    with _logged_lock:
        first = site not in _logged_sites
        _logged_sites.add(site)
    if first:
        logger.warning("agentel: %s [%s]", message, site, exc_info=exc_info)
    else:
        logger.debug("agentel: %s [%s]", message, site, exc_info=exc_info)


@contextmanager
def guarded(site: str, what: str) -> Iterator[None]:
    """Swallow (and log once) any ``Exception`` from agentel's own extraction code."""
    try:
        yield
    except Exception:
        log_once(site, f"could not {what}")


# --- errors ----------------------------------------------------------------------------------


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: the fully-qualified class name, bare for builtins.

    Matches how the OTel SDK fills ``exception.type`` (e.g. ``openai.InternalServerError``,
    ``ValueError``, ``asyncio.exceptions.CancelledError``).
    """
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", cls.__name__)
    return f"{module}.{qualname}" if module and module != "builtins" else qualname


def record_error(span: Span, exc: BaseException) -> None:
    """Record ``exc`` on ``span``: exception event, ERROR status, ``error.type``. Never raises."""
    try:
        if not span.is_recording():
            return
        etype = error_type(exc)
        span.record_exception(exc, escaped=True)
        message = str(exc)
        span.set_status(Status(StatusCode.ERROR, f"{etype}: {message}" if message else etype))
        span.set_attribute(A.ERROR_TYPE, etype)
    except Exception:
        log_once("record_error", "could not record an exception on a span")


# --- attribute values --------------------------------------------------------------------------

_PRIMITIVES = (bool, str, int, float)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # e.g. circular structures
        return repr(value)


def to_attribute_value(value: Any) -> AttributeValue | None:
    """Turn ``value`` into a valid OTel attribute value (``None`` means: don't set it).

    Primitives pass through, homogeneous sequences of primitives become tuples, anything else
    (dicts, mixed lists, objects) is JSON-encoded.
    """
    if value is None:
        return None
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = list(value)
        if not items:
            return ()
        for kind in _PRIMITIVES:  # bool before int: bool is an int subclass
            if all(type(item) is kind for item in items):
                return tuple(items)
        if all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in items):
            return tuple(float(item) for item in items)
    return _json(value)


def set_attribute(span: Span, key: str, value: Any) -> None:
    """Set one attribute if the span records and the value isn't ``None``. Never raises."""
    try:
        converted = to_attribute_value(value)
        if converted is not None and span.is_recording():
            span.set_attribute(key, converted)
    except Exception:
        log_once("set_attribute", f"could not set attribute {key!r}")


def set_attributes(span: Span, values: Mapping[str, Any] | None) -> None:
    """Set several attributes in one call (``None`` values skipped). Never raises."""
    if not values:
        return
    try:
        cleaned = clean_attributes(values)
        if cleaned and span.is_recording():
            span.set_attributes(cleaned)
    except Exception:
        log_once("set_attributes", "could not set attributes")


def clean_attributes(values: Mapping[str, Any] | None) -> dict[str, AttributeValue]:
    """A copy of ``values`` with ``None`` dropped and the rest made attribute-safe."""
    out: dict[str, AttributeValue] = {}
    if not values:
        return out
    for key, value in values.items():
        if value is None:
            continue
        if type(value) in _PRIMITIVES:  # fast path: the common case needs no conversion
            out[key] = value
            continue
        try:
            converted = to_attribute_value(value)
        except Exception:
            log_once("clean_attributes", f"could not convert attribute {key!r}")
            continue
        if converted is not None:
            out[str(key)] = converted
    return out


def event_name(kind: str) -> str:
    return kind if kind.startswith("agentel.") else f"agentel.{kind}"


def add_event(span: Span, kind: str, data: Mapping[str, Any] | None = None) -> None:
    """Add span event ``agentel.<kind>`` with ``data`` as attributes. Never raises."""
    try:
        if span.is_recording():
            span.add_event(event_name(kind), clean_attributes(data))
    except Exception:
        log_once("add_event", f"could not add event {kind!r}")


ServerAttributes = tuple[tuple[str, Any], ...]
_servers: dict[int, tuple[Any, ServerAttributes]] = {}


def server_attributes(url: Any) -> ServerAttributes:
    """``server.address`` / ``server.port`` from a URL object (httpx-like) or string, as
    ``(key, value)`` pairs for ``attributes.update(...)``.

    Read once per URL object (a client's ``base_url`` is the same object on every call) and
    shared, hence immutable: pairs in a tuple, which ``dict.update`` copies 2.5x faster than
    a ``MappingProxyType``.
    """
    held = _servers.get(id(url))
    if held is not None and held[0] is url:
        return held[1]
    out = tuple(_server_attributes(url).items())
    if len(_servers) >= 64:
        _servers.clear()
    _servers[id(url)] = (url, out)
    return out


def _server_attributes(url: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        host = getattr(url, "host", None)
        port = getattr(url, "port", None)
        scheme = getattr(url, "scheme", None)
        if host is None and isinstance(url, str):
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            host, port, scheme = parts.hostname, parts.port, parts.scheme
        if host:
            out[A.SERVER_ADDRESS] = str(host)
            if port is None:
                port = {"https": 443, "http": 80}.get(str(scheme or "").lower())
            if port is not None:
                out[A.SERVER_PORT] = int(port)
    except Exception:
        log_once("server_attributes", "could not read the server address")
    return out


# --- usage and cost ----------------------------------------------------------------------------


@dataclass
class Usage:
    """Token counts of one LLM call (``None``: not reported).

    ``input_tokens`` includes cached input and ``output_tokens`` includes reasoning output, as
    in the OTel GenAI conventions (and OpenAI's usage block).
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    def merge(
        self,
        input_tokens: Any = None,
        output_tokens: Any = None,
        cache_read_tokens: Any = None,
        cache_write_tokens: Any = None,
        reasoning_tokens: Any = None,
        out: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Overwrite the counts given (anything but a count >= 0 leaves a count unchanged).

        Returns the span attributes of the counts it set, added to ``out`` when given. Once
        per LLM call, so written out, with the usual plain ``int`` read without a call.
        """
        if out is None:
            out = {}
        if (
            input_tokens is not None
            and (
                count := input_tokens
                if type(input_tokens) is int and input_tokens >= 0
                else as_token_count(input_tokens)
            )
            is not None
        ):
            self.input_tokens = out[A.GEN_AI_USAGE_INPUT_TOKENS] = count
        if (
            output_tokens is not None
            and (
                count := output_tokens
                if type(output_tokens) is int and output_tokens >= 0
                else as_token_count(output_tokens)
            )
            is not None
        ):
            self.output_tokens = out[A.GEN_AI_USAGE_OUTPUT_TOKENS] = count
        if (
            cache_read_tokens is not None
            and (count := as_token_count(cache_read_tokens)) is not None
        ):
            self.cache_read_tokens = out[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = count
        if (
            cache_write_tokens is not None
            and (count := as_token_count(cache_write_tokens)) is not None
        ):
            self.cache_write_tokens = out[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = count
        if reasoning_tokens is not None and (count := as_token_count(reasoning_tokens)) is not None:
            self.reasoning_tokens = out[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = count
        return out

    def is_empty(self) -> bool:
        return (
            self.input_tokens is None
            and self.output_tokens is None
            and self.cache_read_tokens is None
            and self.cache_write_tokens is None
            and self.reasoning_tokens is None
        )


def as_token_count(value: Any) -> int | None:
    """A non-negative int token count, or ``None`` for anything else."""
    if type(value) is int:  # the usual case first (``type`` and not isinstance: bool is no count)
        return value if value >= 0 else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value) if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def cost_attributes(model: str | None, provider: str | None, usage: Usage) -> dict[str, Any]:
    """``gen_ai.usage.cost`` + ``agentel.cost.*`` for a call; empty if unpriced. Never raises."""
    if not model or usage.is_empty():
        return {}
    try:
        attrs = default_pricebook().cost_attributes(
            model,
            provider,
            input_tokens=usage.input_tokens,  # type: ignore[arg-type]  # None reads as 0
            output_tokens=usage.output_tokens,  # type: ignore[arg-type]
            cache_read_tokens=usage.cache_read_tokens,  # type: ignore[arg-type]
            cache_write_tokens=usage.cache_write_tokens,  # type: ignore[arg-type]
            reasoning_tokens=usage.reasoning_tokens,  # type: ignore[arg-type]
        )
    except Exception:
        log_once("cost_attributes", "could not price an LLM call")
        return {}
    return attrs or {}
