"""Generic wrapt wrappers that turn one provider SDK call into one LLM span.

A provider module supplies two functions:

* ``extract_request(instance, args, kwargs) -> LLMRequest | None`` builds the span name and
  start attributes from the call's arguments; ``None`` means "don't trace this call" (e.g. a
  call shape not handled yet) and the call passes through untouched.
* ``handle_response(handle, result) -> object | None`` records the response on the span.
  Returning ``None`` lets the wrapper end the span and hand the caller ``result`` unchanged;
  returning another object (e.g. a stream proxy) hands that object to the caller instead,
  and the object then owns the span and must end it.

Neither function may break the user's call: exceptions from them are logged once per site.
Exceptions from the call itself are recorded on the span and re-raised unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from ._common import clean_attributes, log_once
from ._handles import LLMHandle

Wrapped = Callable[..., Any]


@dataclass
class LLMRequest:
    """What a provider call asks for: enough to name and start its span."""

    operation: str
    provider: str | None
    model: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def span_name(self) -> str:
        return f"{self.operation} {self.model}" if self.model else self.operation


RequestExtractor = Callable[[Any, tuple, Mapping[str, Any]], "LLMRequest | None"]
ResponseHandler = Callable[[LLMHandle, Any], Any]


def start_llm_span(tracer: trace.Tracer, request: LLMRequest) -> tuple[LLMHandle, context.Context]:
    """Start a CLIENT span for ``request``; returns its handle and a context making it current."""
    span = tracer.start_span(
        request.span_name, kind=SpanKind.CLIENT, attributes=clean_attributes(request.attributes)
    )
    handle = LLMHandle(span, model=request.model, provider=request.provider)
    return handle, trace.set_span_in_context(span)


def _extract(
    extract_request: RequestExtractor,
    instance: Any,
    args: tuple,
    kwargs: Mapping[str, Any],
    site: str,
) -> LLMRequest | None:
    try:
        return extract_request(instance, args, kwargs)
    except Exception:
        log_once(f"{site}.request", "read the request; the call is not traced")
        return None


def _finish(handle: LLMHandle, result: Any, handle_response: ResponseHandler, site: str) -> Any:
    replacement = None
    if handle.is_recording():
        try:
            replacement = handle_response(handle, result)
        except Exception:
            log_once(f"{site}.response", "could not read the response")
            replacement = None
    if replacement is None:
        handle.end()
        return result
    return replacement


def sync_llm_wrapper(
    tracer: trace.Tracer,
    extract_request: RequestExtractor,
    handle_response: ResponseHandler,
    *,
    site: str,
) -> Callable[[Wrapped, Any, tuple, dict], Any]:
    """A wrapt wrapper for a synchronous SDK method."""

    def wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        request = _extract(extract_request, instance, args, kwargs, site)
        if request is None:
            return wrapped(*args, **kwargs)
        try:
            handle, ctx = start_llm_span(tracer, request)
        except Exception:
            log_once(f"{site}.start", "could not start a span; the call is not traced")
            return wrapped(*args, **kwargs)
        token = context.attach(ctx)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            context.detach(token)
            handle.end(exc)
            raise
        context.detach(token)
        return _finish(handle, result, handle_response, site)

    return wrapper


def async_llm_wrapper(
    tracer: trace.Tracer,
    extract_request: RequestExtractor,
    handle_response: ResponseHandler,
    *,
    site: str,
) -> Callable[[Wrapped, Any, tuple, dict], Awaitable[Any]]:
    """A wrapt wrapper for an ``async def`` SDK method (the span covers the awaited call)."""

    async def wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return await wrapped(*args, **kwargs)
        request = _extract(extract_request, instance, args, kwargs, site)
        if request is None:
            return await wrapped(*args, **kwargs)
        try:
            handle, ctx = start_llm_span(tracer, request)
        except Exception:
            log_once(f"{site}.start", "could not start a span; the call is not traced")
            return await wrapped(*args, **kwargs)
        token = context.attach(ctx)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            context.detach(token)
            handle.end(exc)
            raise
        context.detach(token)
        return _finish(handle, result, handle_response, site)

    return wrapper
