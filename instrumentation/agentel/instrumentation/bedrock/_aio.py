"""aiobotocore (async botocore, used by aioboto3): the same bedrock-runtime operations, awaited.

The request and response are read exactly as for botocore (``_runtime``); what differs is I/O:

- streams (``ConverseStream``'s ``stream``, ``InvokeModelWithResponseStream``'s ``body``) are
  ``AioEventStream`` objects, iterated with ``async for`` and closed with a plain ``close()``:
  :class:`AioEventStreamProxy` keeps both, and ends the span on every path;
- an ``InvokeModel`` body is read with ``await body.read()``: it is read inside the call (as
  botocore's is read by the sync wrapper) and handed back as an unread body of the same class,
  so the application reads, iterates or closes it as before. A network error while reading it
  is raised by the call (and recorded on the span) instead of by the application's own read.

Nothing here imports ``aiobotocore``: the body class is taken from the response itself.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from .._call import ProviderCall
from .._streams import AsyncStreamProxy, StreamObserver
from . import _runtime

Wrapper = Callable[[Callable[..., Any], Any, tuple, dict], Any]


class AioEventStreamProxy(AsyncStreamProxy):
    """Proxy of an ``aiobotocore`` ``AioEventStream``: ``async for``, and a synchronous close."""

    def __init__(self, stream: Any, call: ProviderCall, observer: StreamObserver) -> None:
        super().__init__(stream, call, observer)
        # its __anext__ is an async generator function: iterate what __aiter__ returns
        self._self_next = stream.__aiter__().__anext__

    def close(self) -> Any:  # type: ignore[override]
        try:
            return self.__wrapped__.close()
        finally:
            self._agentel_end("closed")


class _ReadBody:
    """An HTTP body already read, in the shapes aiobotocore's body classes read from: aiohttp's
    response (``.content.read(n)``, ``.content.at_eof()``) and httpx's (``aiter_raw()``)."""

    def __init__(self, data: bytes, url: Any) -> None:
        self.data = data
        self.url = url
        self.content = self
        self._io = io.BytesIO(data)

    async def read(self, amount: int = -1) -> bytes:
        return self._io.read(amount)

    def at_eof(self) -> bool:
        return self._io.tell() >= len(self.data)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        rest = self._io.read()
        if rest:
            yield rest

    def close(self) -> None:
        """Nothing to release: the real response was read to its end."""

    async def aclose(self) -> None:
        """Nothing to release: the real response was read to its end."""


async def _read_invoke_body(result: Any) -> None:
    """Replace an InvokeModel response's body by an unread copy of the same class."""
    body: Any = result.get("body") if isinstance(result, dict) else None
    if not type(body).__module__.startswith("aiobotocore."):  # a body we know how to rebuild
        return
    data = await body.read()
    raw = getattr(body, "_raw_stream", None)
    result["body"] = type(body)(_ReadBody(data, getattr(raw, "url", None)), len(data))


def _read_json(result: Any) -> Any:
    data = getattr(getattr(result["body"], "_raw_stream", None), "data", None)
    return json.loads(data) if data is not None else None


def handle_response(call: ProviderCall, result: Any) -> Any:
    """Record an aiobotocore bedrock-runtime response; streams are proxied."""
    return _runtime.handle_response(
        call, result, stream_proxy=AioEventStreamProxy, read_body=_read_json
    )


def _is_invoke_model(instance: Any, args: tuple, kwargs: dict) -> bool:
    operation = args[0] if args else kwargs.get("operation_name")
    if operation != "InvokeModel":
        return False
    meta = getattr(instance, "meta", None)
    return getattr(getattr(meta, "service_model", None), "service_name", None) == "bedrock-runtime"


def reading_wrapper(traced: Wrapper) -> Wrapper:
    """``traced`` (an async LLM wrapper) around a call that also reads an InvokeModel body."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        if not (is_instrumentation_enabled() and _is_invoke_model(instance, args, kwargs)):
            return await traced(wrapped, instance, args, kwargs)

        async def call_and_read(*call_args: Any, **call_kwargs: Any) -> Any:
            result = await wrapped(*call_args, **call_kwargs)
            await _read_invoke_body(result)
            return result

        return await traced(call_and_read, instance, args, kwargs)

    return wrapper
