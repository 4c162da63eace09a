"""The HTTP side of the scripted LLM server: routing, SSE, errors, embeddings and the script.

The provider dialects live in :mod:`agentel.testing._wire`, one module each; this module
routes a request to the registered format that claims its path.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from ._script import (
    Api,
    RecordedRequest,
    Reply,
    Usage,
    auto_reply,
    embedding_vector,
    estimate_embedding_tokens,
    estimate_usage,
)
from ._wire import DEFAULT_MODEL, WIRE_FORMATS, Event, PathRoute, Turn, WireFormat
from ._wire.openai_chat import openai_error_body

logger = logging.getLogger("agentel.testing")

NO_REPLY_LEFT = "no scripted reply left (ScriptedLLMServer queue is empty and auto=False)"

_QUIET_ERRORS = (ConnectionError, TimeoutError, socket.timeout)


_OUTPUT_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.refusal.delta",
    }
)


def _carries_output(event: Any) -> bool:
    """Whether a streamed event carries output: a text, tool-call arguments or refusal delta
    (Chat Completions, Responses, Anthropic Messages and Bedrock events; an InvokeModel
    stream's ``chunk`` is judged by the model body inside it)."""
    if not isinstance(event, tuple) or len(event) != 2:
        return False
    name, data = event
    if name in _OUTPUT_EVENTS:
        return True
    if not isinstance(data, dict):
        return False
    if name == "chunk" and isinstance(data.get("bytes"), str):
        body = json.loads(base64.b64decode(data["bytes"]))
        if "type" in body:
            return _carries_output((body["type"], body))
        if "contentBlockDelta" in body:
            return _carries_output(("contentBlockDelta", body["contentBlockDelta"]))
        outputs = body.get("outputs") or [body]
        return any(o.get("generation") or o.get("text") for o in outputs if isinstance(o, dict))
    if name == "contentBlockDelta":
        return any(k in (data.get("delta") or {}) for k in ("text", "toolUse"))
    if name == "content_block_delta":
        return (data.get("delta") or {}).get("type") in ("text_delta", "input_json_delta")
    return any(
        isinstance(choice, dict)
        and any((choice.get("delta") or {}).get(k) for k in ("content", "tool_calls", "refusal"))
        for choice in data.get("choices") or ()
    )


def _error_body(api: Api | None, status: int, message: str, error_type: str | None) -> dict:
    fmt = WIRE_FORMATS.get(api) if api is not None else None
    return (fmt.error_body if fmt else openai_error_body)(status, message, error_type)


def _path_route(path: str) -> tuple[WireFormat, PathRoute, re.Match[str]] | None:
    """The format and route whose path pattern matches ``path``, if any."""
    for fmt in WIRE_FORMATS.values():
        for route in fmt.paths:
            found = route.pattern.match(path)
            if found is not None:
                return fmt, route, found
    return None


def _claims(fmt: WireFormat, route: str, headers: dict[str, str]) -> bool:
    """True when a request on ``route`` with ``headers`` speaks ``fmt``'s dialect."""
    if fmt.marker_header is not None and fmt.marker_header in headers:
        return True
    return any(route.startswith(r) for r in (*fmt.routes, *fmt.extra_routes))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: ScriptedLLMServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.workers: set[threading.Thread] = set()
        self.track_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can block on reverse DNS.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._work,
            args=(request, client_address),
            name="agentel-scripted-llm",
            daemon=True,
        )
        with self.track_lock:
            self.connections.add(request)
            self.workers.add(worker)
        worker.start()

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.track_lock:
                self.connections.discard(request)
                self.workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, _QUIET_ERRORS) or self.owner._stopping.is_set():
            return
        logger.exception("scripted LLM server: error while serving %s", client_address)


class _Abort(Exception):
    """Raised inside the handler to drop the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stall
    server_version = "agentel-scripted-llm/1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # ----------------------------------------------------------------- plumbing

    @property
    def owner(self) -> ScriptedLLMServer:
        return self.server.owner

    def _serve(self, method: str) -> None:
        self._head_sent = False
        try:
            self._handle(method)
        except _Abort:
            self._drop()
        except _QUIET_ERRORS:
            self.close_connection = True
        except Exception as exc:
            logger.exception("scripted LLM server: failed to answer %s %s", method, self.path)
            self.close_connection = True
            if not self._head_sent:
                with contextlib.suppress(OSError):
                    self._send_error(None, 500, f"scripted LLM server error: {exc!r}")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.owner._stopping.wait(seconds):
            raise _Abort

    def _drop(self) -> None:
        """Close the connection abruptly (RST where the OS allows it)."""
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _send_head(self, status: int, headers: dict[str, str]) -> None:
        self._head_sent = True
        self.send_response(status)
        request_id = f"req_{next(self.owner._request_ids):024d}"
        self.send_header("x-request-id", request_id)
        self.send_header("request-id", request_id)
        self.send_header("x-amzn-RequestId", request_id)  # botocore's ResponseMetadata
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, cut: bool = False
    ) -> None:
        data = json.dumps(payload).encode()
        head = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        self._send_head(status, {**head, **(headers or {})})
        if cut:
            self.wfile.write(data[: len(data) // 2])
            raise _Abort
        self.wfile.write(data)

    def _send_error(self, api: Api | None, status: int, message: str, **kw: Any) -> None:
        error_type = kw.pop("error_type", None)
        fmt = WIRE_FORMATS.get(api) if api is not None else None
        if fmt is not None and fmt.error_headers is not None:
            kw["headers"] = {**fmt.error_headers(status, error_type), **(kw.get("headers") or {})}
        self._send_json(status, _error_body(api, status, message, error_type), **kw)

    def _send_sse(self, events: list[Event], reply: Reply, fmt: WireFormat | None = None) -> None:
        """Stream ``events`` chunked: SSE frames, or the format's own framing."""
        head = {
            "Content-Type": fmt.stream_content_type if fmt else "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
        }
        frame_of = fmt.stream_frame if fmt is not None else None
        self._send_head(200, {**head, **reply.headers})
        waiting = reply.first_delta_delay > 0
        for i, event in enumerate(events):
            if reply.cut_after_chunks is not None and i >= reply.cut_after_chunks:
                raise _Abort
            if i:
                self._wait(reply.chunk_delay)
            if waiting and _carries_output(event):
                waiting = False
                self._wait(reply.first_delta_delay)
            if frame_of is not None:
                payload = frame_of(event)
            else:
                name, data = event
                text = data if isinstance(data, str) else json.dumps(data)
                payload = ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.write(b"0\r\n\r\n")

    # ----------------------------------------------------------------- routing

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        raw = self._read_body()
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.owner._record(
            RecordedRequest(
                method, path, headers, body if isinstance(body, dict) else None, url.query
            )
        )
        matched = _path_route(path)
        if matched is not None:
            self._path(method, body if not bad_json else None, *matched)
            return
        route = path[3:] if path.startswith("/v1/") else path
        api: Api | None = next(
            (name for name, fmt in WIRE_FORMATS.items() if _claims(fmt, route, headers)), None
        )

        if method == "GET" and (route == "/models" or route.startswith("/models/")):
            self._send_json(200, self._models(route, anthropic=api == "anthropic"))
            return
        generate = {r: fmt for fmt in WIRE_FORMATS.values() for r in fmt.routes}
        extra = {
            r: (fmt, fn) for fmt in WIRE_FORMATS.values() for r, fn in fmt.extra_routes.items()
        }
        if method != "POST" or (
            route not in generate and route not in extra and route != "/embeddings"
        ):
            self._send_error(api, 404, f"scripted LLM server: no route for {method} {path}")
            return
        owner = generate.get(route) or (extra[route][0] if route in extra else None)
        api = owner.api if owner is not None else None
        if bad_json or not isinstance(body, dict):
            self._send_error(api, 400, "request body must be a JSON object")
            return
        if route in extra:
            self._send_json(200, extra[route][1](body))
        elif route == "/embeddings":
            self._embeddings(body)
        else:
            assert api is not None
            self._generate(api, body)

    def _path(
        self, method: str, body: Any, fmt: WireFormat, route: PathRoute, found: re.Match[str]
    ) -> None:
        if method != "POST":
            self._send_error(fmt.api, 404, f"scripted LLM server: no route for {method}")
            return
        if not isinstance(body, dict):
            self._send_error(fmt.api, 400, "request body must be a JSON object")
            return
        if found.groupdict().get("model"):
            body = {**body, "model": unquote(found["model"])}
        if route.kind == "embed":
            reply = self.owner._next_reply(None, body, errors_only=True)
            if reply is not None:
                self._send_scripted_error(fmt.api, reply)
            elif fmt.embed is not None:
                action = found.groupdict().get("action") or ""
                self._send_json(200, fmt.embed(action, body))
            return
        self._generate(
            fmt.api, body, stream=None if route.kind == "auto" else route.kind == "stream"
        )

    def _send_scripted_error(self, api: Api | None, reply: Reply) -> None:
        self._wait(reply.delay)
        self._send_error(
            api,
            reply.status,
            reply.error_message or "scripted error",
            error_type=reply.error_type,
            headers=reply.headers,
        )

    def _models(self, route: str, anthropic: bool) -> dict[str, Any]:
        ids = [route.split("/", 2)[2]] if route.count("/") >= 2 else [DEFAULT_MODEL]
        if anthropic:
            data = [
                {
                    "type": "model",
                    "id": i,
                    "display_name": i,
                    "created_at": "2025-01-01T00:00:00Z",
                }
                for i in ids
            ]
            if route != "/models":
                return data[0]
            return {"data": data, "has_more": False, "first_id": ids[0], "last_id": ids[-1]}
        models: list[dict[str, Any]] = [
            {"id": i, "object": "model", "created": 0, "owned_by": "agentel"} for i in ids
        ]
        return models[0] if route != "/models" else {"object": "list", "data": models}

    def _embeddings(self, body: dict[str, Any]) -> None:
        reply = self.owner._next_reply(None, body, errors_only=True)
        if reply is not None:
            self._wait(reply.delay)
            self._send_error(
                None,
                reply.status,
                reply.error_message or "scripted error",
                error_type=reply.error_type,
                headers=reply.headers,
            )
            return
        inputs = body.get("input")
        if isinstance(inputs, str) or (
            isinstance(inputs, list) and inputs and all(isinstance(i, int) for i in inputs)
        ):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            self._send_error(None, 400, "'input' must be a non-empty string or array")
            return
        dims = body.get("dimensions")
        dims = dims if isinstance(dims, int) and dims > 0 else 8
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, item in enumerate(inputs):
            vector: Any = embedding_vector(item, dims)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = estimate_embedding_tokens(inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or DEFAULT_MODEL,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _generate(self, api: Api, body: dict[str, Any], stream: bool | None = None) -> None:
        """Answer a generating request (``stream``: from the route, else the body's flag)."""
        reply = self.owner._next_reply(api, body)
        if reply is None:
            self._send_error(api, 500, NO_REPLY_LEFT, headers={"x-should-retry": "false"})
            return
        if reply.is_error:
            self._send_scripted_error(api, reply)
            return
        self._wait(reply.delay)
        turn = self.owner._turn(api, body, reply)
        fmt = WIRE_FORMATS[api]
        if body.get("stream") is True if stream is None else stream:
            self._send_sse(fmt.render_stream(turn), reply, fmt)
            return
        payload = {**fmt.render(turn), **reply.body_override}
        headers = (
            {**fmt.response_headers(turn), **reply.headers}
            if fmt.response_headers
            else reply.headers
        )
        self._send_json(200, payload, headers, cut=reply.cut_after_chunks is not None)


class ScriptedLLMServer:
    """An OpenAI- and Anthropic-compatible HTTP server answering from a script.

    Replies are consumed FIFO by all endpoints; when the queue is empty and ``auto`` is true
    a deterministic AUTO reply is generated (see :mod:`agentel.testing`). A ``responder``
    (``(api, request body) -> Reply``) answers every generating request instead of the
    queue; the replay of recorded runs uses one.
    """

    def __init__(
        self,
        replies: Iterable[Reply] | None = None,
        auto: bool = True,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        responder: Callable[[Api, dict[str, Any]], Reply | None] | None = None,
    ) -> None:
        self.auto = auto
        self.responder = responder
        self.host = host
        self._port = port
        self._queue: deque[Reply] = deque(replies or ())
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._seq = 0
        self._request_ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ScriptedLLMServer:
        """Bind the port and serve in a background thread (no-op if already running)."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._port), self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="agentel-scripted-llm-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, drop open connections and release the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with httpd.track_lock:
            connections = list(httpd.connections)
            workers = list(httpd.workers)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("ScriptedLLMServer is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``: :attr:`url` + ``/v1``."""
        return self.url + "/v1"

    @property
    def mistral_base_url(self) -> str:
        """``server_url`` for ``mistralai.Mistral(server_url=...)``: :attr:`url` + ``/mistral``."""
        return self.url + "/mistral"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for ``anthropic.Anthropic(base_url=...)``: :attr:`url`."""
        return self.url

    # ----------------------------------------------------------------- script

    def enqueue(self, *replies: Reply) -> None:
        """Append scripted replies to the FIFO queue shared by all endpoints."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Number of scripted replies not consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        return self._requests

    def reset(self) -> None:
        """Clear the reply queue and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # ----------------------------------------------------------------- internals

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _next_reply(
        self, api: Api | None, body: dict[str, Any], errors_only: bool = False
    ) -> Reply | None:
        if self.responder is not None and api is not None and not errors_only:
            return self.responder(api, body)
        with self._lock:
            if self._queue and (not errors_only or self._queue[0].is_error):
                return self._queue.popleft()
        if errors_only or api is None or not self.auto:
            return None
        return auto_reply(api, body)

    def _turn(self, api: Api, body: dict[str, Any], reply: Reply) -> Turn:
        model = reply.model or body.get("model")
        text = reply.content if reply.content is not None or reply.calls else ""
        usage = reply.usage
        if usage is None:
            usage = estimate_usage(
                api, body, text=text, tool_calls=reply.calls, thinking=reply.thinking
            )
            n = body.get("n")
            if api == "chat" and isinstance(n, int) and n > 1:
                usage = Usage(
                    usage.input_tokens, usage.output_tokens * n, 0, 0, usage.reasoning_tokens * n
                )
        return Turn(
            api=api,
            seq=self._next_seq(),
            created=int(time.time()),
            model=model if isinstance(model, str) and model else DEFAULT_MODEL,
            body=body,
            text=text,
            calls=reply.calls,
            thinking=reply.thinking,
            finish_reason=reply.resolved_finish_reason(api),
            usage=usage,
        )
