"""An OTLP/HTTP traces receiver that writes into any agentel store, on Starlette + uvicorn.

``POST /v1/traces`` takes protobuf or JSON bodies, optionally gzip-compressed, and sends
them through the same normalize-and-ingest path as the exporters, so spans from other
languages and instrumentations get run rollups and cost. Answers follow OTLP/HTTP: 200 with
``partial_success`` for bad spans (the good ones are stored), 400 for undecodable bodies,
401 without the bearer token, 408 when the body stalls, 413 above the size limit (sent
before the body is read when Content-Length says so), 503 with ``Retry-After`` when the
store fails or too many request bytes are in flight.

:func:`create_app` builds the ASGI app so another server (``agentel ui``) can mount the same
endpoint with the same limits and auth; :class:`OTLPReceiver` serves it with uvicorn.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import anyio
import anyio.to_thread
import uvicorn
from opentelemetry.instrumentation.utils import suppress_instrumentation
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from agentel.store import Store, otlp_json

logger = logging.getLogger("agentel.receiver")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_BACKLOG = 1024
RETRY_AFTER_SECONDS = 1
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRACES_PATH = "/v1/traces"


class BodyError(Exception):
    """The request body cannot be used; carries the HTTP status to answer with."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BodyError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Encoding {encoding!r}"
        )
    inflater = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not valid {encoding}: {exc}") from exc
    if len(data) > limit:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body inflates beyond {limit} bytes")
    return data


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The OTLP/JSON document of a request body (protobuf is converted to the same form).

    JSON text that is not valid UTF-8 is decoded with ``surrogateescape``: the broken bytes
    become lone surrogates, which the store repairs per span to U+FFFD, as for any span.
    """
    if content_type == PROTOBUF:
        try:
            from google.protobuf.json_format import MessageToDict
            from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                ExportTraceServiceRequest,
            )
        except ImportError as exc:  # pragma: no cover - opentelemetry-proto ships with [otlp]
            raise BodyError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "protobuf bodies need opentelemetry-proto: pip install 'agentel[otlp]'",
            ) from exc
        try:
            return MessageToDict(ExportTraceServiceRequest.FromString(body))
        except Exception as exc:
            raise BodyError(
                HTTPStatus.BAD_REQUEST, f"body is not an OTLP protobuf request: {exc}"
            ) from exc
    if content_type == JSON:
        try:
            document = json.loads(body.decode("utf-8", "surrogateescape"))
        except RecursionError as exc:
            raise BodyError(
                HTTPStatus.BAD_REQUEST, "body is not valid JSON: nested too deeply"
            ) from exc
        except ValueError as exc:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise BodyError(HTTPStatus.BAD_REQUEST, "body must be a JSON object with resourceSpans")
        if not isinstance(document.get("resourceSpans", []), (list, type(None))):
            raise BodyError(HTTPStatus.BAD_REQUEST, "resourceSpans must be a list")
        return document
    raise BodyError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}",
    )


def _response(content_type: str, rejected: int, message: str) -> bytes:
    message = message.encode("utf-8", "replace").decode("utf-8")
    if content_type == PROTOBUF:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
        return response.SerializeToString()
    body: dict[str, Any] = {}
    if rejected:
        body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return json.dumps(body).encode()


def _error(status: int, message: str, *, close: bool = False) -> Response:
    headers = {"Connection": "close"} if close else {}
    if status == HTTPStatus.SERVICE_UNAVAILABLE:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    body = json.dumps({"code": status, "message": message}).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


@dataclass
class ReceiverLimits:
    """The bounds one endpoint enforces; see :func:`create_app`."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_inflight_bytes: int = 4 * DEFAULT_MAX_BODY_BYTES
    read_timeout: float = DEFAULT_READ_TIMEOUT


class TracesEndpoint:
    """The ASGI app behind ``POST /v1/traces``: auth, limits, decode, ingest, OTLP answer.

    Request bodies are held within ``max_inflight_bytes`` in total (a request beyond it waits
    up to ``read_timeout`` for room, then gets a 503); decoding and ingest run
    one request at a time in a worker thread, so memory stays near the in-flight budget plus
    one decoded request, whatever the number of clients.
    """

    def __init__(self, store: Store, token: str | None, limits: ReceiverLimits) -> None:
        self.store = store
        self.token = token
        self.limits = limits
        self.accepted_spans = 0
        self.rejected_spans = 0
        self.inflight_bytes = 0
        self._turn = anyio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._answer(scope, receive)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response:
        headers = Headers(scope=scope)
        if self.token is not None:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return _error(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token", close=True)
        limit = self.limits.max_body_bytes
        declared = headers.get("content-length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        if length is not None and length > limit:
            return _error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the {limit}-byte limit",
                close=True,
            )
        reserved = 0
        try:
            if length is not None:
                if not await self._reserve(length):
                    return self._busy()
                reserved = length
            chunks: list[bytes] = []
            size = 0
            deadline = time.monotonic() + 6 * self.limits.read_timeout
            more = True
            while more:
                wait = min(self.limits.read_timeout, deadline - time.monotonic())
                with anyio.move_on_after(max(wait, 0)) as timer:
                    message = await receive()
                if timer.cancelled_caught:
                    return _error(HTTPStatus.REQUEST_TIMEOUT, "request body stalled", close=True)
                if message["type"] == "http.disconnect":
                    return _error(HTTPStatus.BAD_REQUEST, "client disconnected", close=True)
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return _error(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body exceeds the {limit}-byte limit",
                        close=True,
                    )
                if size > reserved:
                    if not await self._reserve(size - reserved):
                        return self._busy()
                    reserved = size
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            del chunks
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            encoding = headers.get("content-encoding", "").strip().lower()
            async with self._turn:
                try:
                    status, payload = await anyio.to_thread.run_sync(
                        self.handle, body, content_type, encoding
                    )
                except BodyError as exc:
                    return _error(exc.status, str(exc))
                except Exception as exc:
                    logger.exception("agentel receive: request failed")
                    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc!r}")
            return Response(payload, status_code=status, media_type=content_type)
        finally:
            self.inflight_bytes -= reserved

    async def _reserve(self, count: int) -> bool:
        """Count ``count`` more bytes in flight, waiting up to ``read_timeout`` for room.

        While it waits, the body stays unread: the client is held back by TCP itself.
        """
        deadline = time.monotonic() + self.limits.read_timeout
        while self.inflight_bytes and self.inflight_bytes + count > self.limits.max_inflight_bytes:
            if time.monotonic() >= deadline:
                return False
            await anyio.sleep(0.02)
        self.inflight_bytes += count
        return True

    def _busy(self) -> Response:
        return _error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"more than {self.limits.max_inflight_bytes} request bytes in flight; retry later",
            close=True,
        )

    def handle(self, body: bytes, content_type: str, encoding: str) -> tuple[int, bytes]:
        """Decode, ingest and answer one request body; returns (status, response body)."""
        data = _inflate(body, encoding, self.limits.max_body_bytes)
        document = decode_body(data, content_type)
        del body, data
        records, errors = otlp_json.decode(document)
        del document
        try:
            with suppress_instrumentation():
                self.store.ingest(records)
        except Exception as exc:
            logger.error("agentel receive: store %s failed: %s", self.store.url, exc)
            raise BodyError(HTTPStatus.SERVICE_UNAVAILABLE, f"store unavailable: {exc}") from exc
        self.accepted_spans += len(records)
        self.rejected_spans += len(errors)
        message = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        return HTTPStatus.OK, _response(content_type, len(errors), message)


def traces_route(
    store: Store,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_inflight_bytes: int | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    path: str = TRACES_PATH,
) -> Route:
    """The ``POST /v1/traces`` route, to put into any Starlette app's routes.

    ``max_inflight_bytes`` (default 4 x ``max_body_bytes``) bounds the request bytes held at
    once across all clients; ``read_timeout`` is the longest silence while a body is read
    (the whole body gets 6 x that).
    """
    limits = ReceiverLimits(
        max_body_bytes=max_body_bytes,
        max_inflight_bytes=max_inflight_bytes or 4 * max_body_bytes,
        read_timeout=read_timeout,
    )
    return Route(path, TracesEndpoint(store, token, limits), methods=["POST"])


async def _not_found(request: Any, exc: Exception) -> Response:
    return _error(HTTPStatus.NOT_FOUND, f"no such endpoint {request.url.path!r}; use {TRACES_PATH}")


def create_app(
    store: Store,
    *,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_inflight_bytes: int | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Starlette:
    """A Starlette app serving ``POST /v1/traces`` into ``store``.

    Other apps can mount it, or take ``app.routes`` (one route built by :func:`traces_route`
    with the same arguments). ``app.state.traces`` is the :class:`TracesEndpoint`, whose
    ``accepted_spans`` and ``rejected_spans`` count what was received.
    """
    route = traces_route(
        store,
        token=token,
        max_body_bytes=max_body_bytes,
        max_inflight_bytes=max_inflight_bytes,
        read_timeout=read_timeout,
    )
    app = Starlette(routes=[route], exception_handlers={404: _not_found})
    app.state.traces = route.app
    return app


class _IdleClosingH11(H11Protocol):
    """uvicorn's h11 protocol that also closes a connection sending nothing at all.

    uvicorn arms its keep-alive timer only after a response; arming it on connect too means
    a client that connects and stays silent is dropped after ``timeout_keep_alive``.
    """

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )


class OTLPReceiver:
    """Serve ``POST /v1/traces`` on ``host:port`` into ``store`` (port 0 picks a free port).

    Binds in the constructor (an ``OSError`` says why it cannot), then serves with uvicorn
    in the calling thread (:meth:`serve_forever`) or a background one (:meth:`start`).
    """

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_inflight_bytes: int | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        self.store = store
        self.app = create_app(
            store,
            token=token,
            max_body_bytes=max_body_bytes,
            max_inflight_bytes=max_inflight_bytes,
            read_timeout=read_timeout,
        )
        self.traces: TracesEndpoint = self.app.state.traces
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=backlog)
        config = uvicorn.Config(
            self.app,
            http=_IdleClosingH11,
            lifespan="off",
            log_config=None,
            access_log=False,
            backlog=backlog,
            timeout_keep_alive=max(1, int(read_timeout)),
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def accepted_spans(self) -> int:
        return self.traces.accepted_spans

    @property
    def rejected_spans(self) -> int:
        return self.traces.rejected_spans

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:4318/v1/traces``."""
        host, port = self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}{TRACES_PATH}"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called from another thread (or Ctrl-C)."""
        self._server.run(sockets=[self._socket])

    def start(self) -> OTLPReceiver:
        """Serve in a background thread; returns once the server accepts requests."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="agentel-receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("agentel receiver did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
