"""An OTLP/HTTP traces receiver that writes into any agentel store.

``POST /v1/traces`` takes protobuf or JSON bodies, optionally gzip-compressed, and sends
them through the same normalize-and-ingest path as the exporters, so spans from other
languages and instrumentations get run rollups and cost. Answers follow OTLP/HTTP: 200 with
``partial_success`` for bad spans, 400 for undecodable bodies, 401 without the bearer
token, 413 above the size limit, 503 (retryable) when the store fails.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentel.store import Store, otlp_json

logger = logging.getLogger("agentel.receiver")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


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
    """The OTLP/JSON document of a request body (protobuf is converted to the same form)."""
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
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BodyError(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise BodyError(HTTPStatus.BAD_REQUEST, "body must be a JSON object with resourceSpans")
        return document
    raise BodyError(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        f"unsupported Content-Type {content_type!r}; use {PROTOBUF} or {JSON}",
    )


def _response(content_type: str, rejected: int, message: str) -> bytes:
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


class OTLPReceiver:
    """Serve ``POST /v1/traces`` on ``host:port`` into ``store`` (port 0 picks a free port)."""

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 4318,
        *,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.store = store
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.accepted_spans = 0
        self.rejected_spans = 0
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint(self) -> str:
        """The OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:4318/v1/traces``."""
        host, port = self.address
        return f"http://{host}:{port}/v1/traces"

    def serve_forever(self) -> None:
        """Serve until :meth:`stop` is called from another thread (or Ctrl-C)."""
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> OTLPReceiver:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="agentel-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, body: bytes, content_type: str, encoding: str) -> tuple[int, bytes]:
        """Decode, ingest and answer one request body; returns (status, response body)."""
        data = _inflate(body, encoding, self.max_body_bytes)
        records, errors = otlp_json.decode(decode_body(data, content_type))
        try:
            self.store.ingest(records)
        except Exception as exc:
            logger.error("agentel receive: store %s failed: %s", self.store.url, exc)
            raise BodyError(HTTPStatus.SERVICE_UNAVAILABLE, f"store unavailable: {exc}") from exc
        self.accepted_spans += len(records)
        self.rejected_spans += len(errors)
        message = "; ".join(errors[:5]) + (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "")
        return HTTPStatus.OK, _response(content_type, len(errors), message)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("%s %s", self.address_string(), format % args)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, message: str) -> None:
                body = json.dumps({"code": status, "message": message}).encode()
                self._send(status, body, JSON)

            def do_POST(self) -> None:
                if self.path.split("?")[0].rstrip("/") != "/v1/traces":
                    self._error(
                        HTTPStatus.NOT_FOUND, f"no such endpoint {self.path!r}; use /v1/traces"
                    )
                    return
                if receiver.token is not None:
                    given = self.headers.get("Authorization", "")
                    if not hmac.compare_digest(given.encode(), f"Bearer {receiver.token}".encode()):
                        self._error(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
                        return
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
                    return
                if length > receiver.max_body_bytes:
                    self._error(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body of {length} bytes exceeds the {receiver.max_body_bytes}-byte limit",
                    )
                    return
                body = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                encoding = self.headers.get("Content-Encoding", "").strip().lower()
                try:
                    status, payload = receiver.handle(body, content_type, encoding)
                except BodyError as exc:
                    self._error(exc.status, str(exc))
                    return
                self._send(status, payload, content_type)

        return Handler
