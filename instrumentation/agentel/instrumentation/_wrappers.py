"""Generic wrapt wrappers that turn one provider SDK call into one LLM span.

A provider module supplies two functions:

* ``extract_request(instance, args, kwargs) -> LLMRequest | None`` builds the span name and
  start attributes from the call's arguments; ``None`` means "don't trace this call" (e.g. a
  call shape not handled yet) and the call passes through untouched.
* ``handle_response(call, result) -> object | None`` records the response on the span.
  Returning ``None`` lets the wrapper end the span and hand the caller ``result`` unchanged;
  returning another object (e.g. a stream proxy) hands that object to the caller instead,
  and the object then owns the span and must end it.

``LLMRequest.call_kwargs`` (rarely set, only by opt-in options such as OpenAI's
``stream_usage``) replaces the keyword arguments the SDK method is called with.

Neither function may break the user's call: exceptions from them are logged once per site.
Exceptions from the call itself are recorded on the span and re-raised unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from ._call import ProviderCall
from ._common import clean_attributes, log_once
from ._config import InstrumentationConfig
from ._metrics import GenAIMetrics
from ._retries import CALL_KEY
from ._streams import StreamManagerProxy

Wrapped = Callable[..., Any]


@dataclass
class LLMRequest:
    """What a provider call asks for: enough to name and start its span.

    ``clean`` says ``attributes`` already holds only attribute-safe values and no ``None``
    (the extractor built them so), so they go to the SDK without a second cleaning pass.
    """

    operation: str
    provider: str | None
    model: str | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    call_kwargs: dict[str, Any] | None = None
    content: Mapping[str, Any] | None = None
    clean: bool = False
    usage_missing: str | None = None
    """Why the response will carry no usage (``agentel.usage.missing``), if it is known
    from the request (a chat stream without ``include_usage``)."""

    @property
    def span_name(self) -> str:
        return f"{self.operation} {self.model}" if self.model else self.operation


RequestExtractor = Callable[[Any, tuple, Mapping[str, Any]], "LLMRequest | None"]
ResponseHandler = Callable[[ProviderCall, Any], Any]

_DEFAULT_CONFIG = InstrumentationConfig()

# The two keys ``is_instrumentation_enabled()`` reads (the plain one for older instrumentations):
# the wrappers read them from the context they fetch anyway, sparing six calls per LLM call.
_SUPPRESS_KEYS = (_SUPPRESS_INSTRUMENTATION_KEY, "suppress_instrumentation")


def start_llm_span(
    tracer: trace.Tracer,
    request: LLMRequest,
    config: InstrumentationConfig | None = None,
    metrics: GenAIMetrics | None = None,
    parent: context.Context | None = None,
) -> tuple[ProviderCall, context.Context]:
    """Start a CLIENT span for ``request``; returns its call and a context making it current.

    ``parent`` is the current context when the caller already holds it: handing it to the
    SDK spares it looking the context up again (three times) for the parent and sampler.
    """
    attributes = request.attributes if request.clean else clean_attributes(request.attributes)
    model = request.model
    span = tracer.start_span(
        f"{request.operation} {model}" if model else request.operation,
        context=parent,
        kind=SpanKind.CLIENT,
        attributes=attributes,
    )
    call = ProviderCall(
        span,
        model=model,
        provider=request.provider,
        config=config or _DEFAULT_CONFIG,
        metrics=metrics,
        attributes=attributes,
    )
    if request.content:
        for key, value in request.content.items():
            call.add_content(key, value)
    if request.usage_missing is not None:
        call.usage_missing = request.usage_missing
    # the call rides in the context too: the SDK's retries are recorded on it (_retries)
    return call, context.set_value(CALL_KEY, call, trace.set_span_in_context(span, parent))


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


def _finish(handle: ProviderCall, result: Any, handle_response: ResponseHandler, site: str) -> Any:
    replacement = None
    if handle._span.is_recording():  # not ended yet: the handle's own check would repeat
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
    config: InstrumentationConfig | None = None,
    metrics: GenAIMetrics | None = None,
) -> Callable[[Wrapped, Any, tuple, dict], Any]:
    """A wrapt wrapper for a synchronous SDK method."""

    def wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
        ctx = context.get_current()
        if ctx.get(_SUPPRESS_KEYS[0]) or ctx.get(_SUPPRESS_KEYS[1]):
            return wrapped(*args, **kwargs)
        try:
            request = extract_request(instance, args, kwargs)
        except Exception:
            log_once(f"{site}.request", "read the request; the call is not traced")
            request = None
        if request is None:
            return wrapped(*args, **kwargs)
        try:
            handle, ctx = start_llm_span(tracer, request, config, metrics, ctx)
        except Exception:
            log_once(f"{site}.start", "could not start a span; the call is not traced")
            return wrapped(*args, **kwargs)
        if request.call_kwargs is not None:
            kwargs = request.call_kwargs
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
    config: InstrumentationConfig | None = None,
    metrics: GenAIMetrics | None = None,
) -> Callable[[Wrapped, Any, tuple, dict], Awaitable[Any]]:
    """A wrapt wrapper for an ``async def`` SDK method (the span covers the awaited call)."""

    async def wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
        ctx = context.get_current()
        if ctx.get(_SUPPRESS_KEYS[0]) or ctx.get(_SUPPRESS_KEYS[1]):
            return await wrapped(*args, **kwargs)
        try:
            request = extract_request(instance, args, kwargs)
        except Exception:
            log_once(f"{site}.request", "read the request; the call is not traced")
            request = None
        if request is None:
            return await wrapped(*args, **kwargs)
        try:
            handle, ctx = start_llm_span(tracer, request, config, metrics, ctx)
        except Exception:
            log_once(f"{site}.start", "could not start a span; the call is not traced")
            return await wrapped(*args, **kwargs)
        if request.call_kwargs is not None:
            kwargs = request.call_kwargs
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


def stream_manager_wrapper(
    tracer: trace.Tracer,
    extract_request: RequestExtractor,
    observer_factory: Callable[[bool], Any],
    *,
    site: str,
    config: InstrumentationConfig | None = None,
    metrics: GenAIMetrics | None = None,
) -> Callable[[Wrapped, Any, tuple, dict], Any]:
    """A wrapt wrapper for a method returning a lazy stream manager (``messages.stream()``).

    The manager is returned inside a :class:`StreamManagerProxy`: the span starts when the
    manager is entered (that is when the request is sent) and ends with its stream.
    """

    def wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        if not is_instrumentation_enabled():
            return manager

        def start() -> tuple[ProviderCall, context.Context, Any] | None:
            if not is_instrumentation_enabled():
                return None
            request = _extract(extract_request, instance, args, kwargs, site)
            if request is None:
                return None
            try:
                call, ctx = start_llm_span(tracer, request, config, metrics)
                return call, ctx, observer_factory(call.capture_content)
            except Exception:
                log_once(f"{site}.start", "could not start a span; the call is not traced")
                return None

        try:
            return StreamManagerProxy(manager, start)
        except Exception:
            log_once(f"{site}.proxy", "could not wrap the stream manager; not traced")
            return manager

    return wrapper
