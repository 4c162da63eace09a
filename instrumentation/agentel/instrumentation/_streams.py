"""Stream proxies: the SDK's stream object, observed chunk by chunk, ending its span once.

A proxy (``wrapt.ObjectProxy``) keeps everything the SDK object offers -- attributes such
as ``.response``, helper methods, ``isinstance`` checks -- and overrides only iteration,
``close()`` and the context manager. The span ends exactly once, on whichever exit comes
first:

* ``completed``: the stream is exhausted;
* ``error``: iterating raised (partial usage read so far is kept);
* ``closed``: ``close()`` or the context manager's exit before the end;
* ``abandoned``: the proxy was garbage-collected while open (``weakref.finalize``).

Per chunk the proxy does constant work and keeps nothing: a clock read, and the provider's
observer, which keeps only running totals (unless content capture asks for the text).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import wrapt
from opentelemetry import context

from ._call import ProviderCall
from ._common import log_once


class StreamObserver(Protocol):
    """What a provider module supplies to read its stream's chunks."""

    def on_chunk(self, chunk: Any) -> None:
        """Read one chunk (keep running totals only). An observer with an ``output``
        attribute sets it once a chunk carried output (text, tool-call arguments or a
        refusal): time to first chunk is measured there. Without one, any chunk counts."""

    def finish(self, call: ProviderCall) -> None:
        """Record what was read on ``call`` before its span ends."""


def _end(call: ProviderCall, observer: StreamObserver, how: str, exc: BaseException | None) -> None:
    if call.ended:
        return
    call.stream_end = how
    try:
        observer.finish(call)
    except Exception:
        log_once(f"{type(observer).__name__}.finish", "could not record the stream's result")
    call.end(exc)


class _ProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, stream: Any, call: ProviderCall, observer: StreamObserver) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_observer = observer
        finalizer = weakref.finalize(self, _end, call, observer, "abandoned", None)
        finalizer.atexit = False
        self._self_finalizer = finalizer

    def _agentel_end(self, how: str, exc: BaseException | None = None) -> None:
        """End the span (idempotent)."""
        self._self_finalizer.detach()
        _end(self._self_call, self._self_observer, how, exc)

    def _agentel_chunk(self, chunk: Any) -> None:
        observer = self._self_observer
        try:
            observer.on_chunk(chunk)
        except Exception:
            log_once(f"{type(observer).__name__}.chunk", "could not read a chunk")
        self._self_call.chunk_received(getattr(observer, "output", True))


class StreamProxy(_ProxyBase):
    """Proxy of a synchronous SDK stream (``openai.Stream``, ``anthropic.Stream``...)."""

    def __init__(self, stream: Any, call: ProviderCall, observer: StreamObserver) -> None:
        super().__init__(stream, call, observer)
        step = getattr(stream, "__next__", None)
        self._self_next = step if step is not None else iter(stream).__next__

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self._self_next()
        except StopIteration:
            self._agentel_end("completed")
            raise
        except BaseException as exc:
            self._agentel_end("error", exc)
            raise
        self._agentel_chunk(chunk)
        return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._agentel_end("closed")

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._agentel_end("closed")


class AsyncStreamProxy(_ProxyBase):
    """Proxy of an asynchronous SDK stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __init__(self, stream: Any, call: ProviderCall, observer: StreamObserver) -> None:
        super().__init__(stream, call, observer)
        step = getattr(stream, "__anext__", None)
        self._self_next = step if step is not None else stream.__aiter__().__anext__

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._self_next()
        except StopAsyncIteration:
            self._agentel_end("completed")
            raise
        except BaseException as exc:
            self._agentel_end("error", exc)
            raise
        self._agentel_chunk(chunk)
        return chunk

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._agentel_end("closed")

    async def aclose(self) -> Any:
        """``aclose()`` of an async generator stream (e.g. ``google-genai``'s)."""
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._agentel_end("closed")

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._agentel_end("closed")


_PROXY_CLASSES: dict[type, type[_ProxyBase] | None] = {}


def proxy_class(result: Any) -> type[_ProxyBase] | None:
    """The proxy class for an SDK stream object (``None`` for anything else), cached per type.

    A stream is an async iterator, or a sync iterator with ``close()`` (SDK ``Stream`` types);
    asking the class once keeps the per-call check off pydantic's slow missing-attribute path.
    """
    kind = type(result)
    try:
        return _PROXY_CLASSES[kind]
    except KeyError:
        pass
    found: type[_ProxyBase] | None = None
    if hasattr(kind, "__anext__"):
        found = AsyncStreamProxy
    elif hasattr(kind, "__next__") and hasattr(kind, "close"):
        found = StreamProxy
    _PROXY_CLASSES[kind] = found
    return found


def end_raw_stream(helper: Any) -> None:
    """End the span of the proxied raw stream inside an SDK stream helper, if it has one.

    Stream helpers (``ChatCompletionStream``, ``ResponseStream``) close the HTTP response
    directly rather than the raw stream, so their ``close()`` is wrapped to call this.
    """
    raw = getattr(helper, "_raw_stream", None)
    if isinstance(raw, _ProxyBase):
        raw._agentel_end("closed")


def helper_close_wrapper(
    wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    """wrapt wrapper for a sync stream helper's ``close()``."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        end_raw_stream(instance)


async def async_helper_close_wrapper(
    wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple, kwargs: dict
) -> Any:
    """wrapt wrapper for an async stream helper's ``close()``."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        end_raw_stream(instance)


Starter = Callable[[], "tuple[ProviderCall, context.Context, StreamObserver] | None"]
"""Starts the span of a helper-managed stream when its manager is entered (None: untraced)."""


def _adopt(helper: Any, call: ProviderCall, observer: StreamObserver, proxy_cls: type) -> None:
    try:
        helper._raw_stream = proxy_cls(helper._raw_stream, call, observer)
    except Exception:
        log_once("stream_manager.adopt", "could not observe a stream helper; its span ends now")
        call.end()


class StreamManagerProxy(wrapt.ObjectProxy):  # type: ignore[misc]
    """Proxy of a lazy stream manager (e.g. ``anthropic.MessageStreamManager``).

    The manager sends its request on ``__enter__``: the span starts there, and the raw stream
    inside the returned helper is swapped for a :class:`StreamProxy`.
    """

    def __init__(self, manager: Any, start: Starter) -> None:
        super().__init__(manager)
        self._self_start = start

    def __enter__(self) -> Any:
        started = self._self_start()
        if started is None:
            return self.__wrapped__.__enter__()
        call, ctx, observer = started
        token = context.attach(ctx)
        try:
            helper = self.__wrapped__.__enter__()
        except BaseException as exc:
            context.detach(token)
            call.end(exc)
            raise
        context.detach(token)
        _adopt(helper, call, observer, StreamProxy)
        return helper

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        started = self._self_start()
        if started is None:
            return await self.__wrapped__.__aenter__()
        call, ctx, observer = started
        token = context.attach(ctx)
        try:
            helper = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            context.detach(token)
            call.end(exc)
            raise
        context.detach(token)
        _adopt(helper, call, observer, AsyncStreamProxy)
        return helper

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
