"""Run the ``agentel ui`` app with uvicorn on a socket bound before the first request.

Starting takes a while on a busy machine: uvicorn, Starlette and the store's query layer are
imported and the store is opened. Meanwhile a small :class:`Prelude` thread answers on the
socket already: the page shell and its static files at once, anything else ``503`` with
``Retry-After`` (the page's API calls retry; OTLP exporters retry such answers too). It hands
the socket to uvicorn as soon as the app is ready. Only the standard library loads before it.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import webbrowser
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from agentel.ui.shell import (
    SECURITY_HEADERS,
    STATIC,
    UIConfig,
    host_name,
    is_page,
    loopback,
    page_html,
)

MAX_HEAD = 16 * 1024
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


class UIError(Exception):
    """The UI cannot start as asked (a host without a token, a port in use)."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def address(host: str, port: int, token: str | None) -> str:
    """The URL a person opens: with ``?token=`` when there is one."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


class Prelude(threading.Thread):
    """Answers on the listening socket while the app loads, one connection at a time.

    GET or HEAD of a page gets the page shell, of ``/static/NAME`` that file; anything else
    ``503`` with ``Retry-After: 1``. The Host check applies as in the app. It runs only
    without a token (the app alone checks tokens), and every answer closes its connection,
    so the next request, once :meth:`stop` has returned, reaches the app.
    """

    def __init__(self, sock: socket.socket, config: UIConfig) -> None:
        super().__init__(name="agentel-ui-prelude", daemon=True)
        self.sock = sock
        self.config = config
        self.page = page_html(config).encode()
        self.files = {p.name for p in STATIC.iterdir() if p.suffix in CONTENT_TYPES}
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                ready, _, _ = select.select([self.sock], [], [], 0.05)
                if not ready or self._stopping.is_set():
                    continue
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    self._answer(conn)
                except OSError:
                    pass

    def stop(self) -> None:
        """Stop accepting; returns once the connection being answered is done."""
        self._stopping.set()
        if self.is_alive():
            self.join(10)

    def _answer(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, *_ = [*lines[0].split(" "), "", ""]
        host = next(
            (v for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "host"), ""
        )
        path = unquote(urlsplit(target).path)
        allowed = self.config.allowed_hosts
        if allowed is not None and host_name(host) not in allowed:
            self._send(
                conn,
                421,
                "application/json",
                _error("this server answers only to its own host name"),
            )
        elif method not in ("GET", "HEAD"):
            self._starting(conn)
        elif is_page(path):
            self._send(conn, 200, "text/html; charset=utf-8", self.page, head_only=method == "HEAD")
        elif path.startswith("/static/") and path[len("/static/") :] in self.files:
            name = path[len("/static/") :]
            body = (STATIC / name).read_bytes()
            kind = CONTENT_TYPES[name[name.rfind(".") :]] + "; charset=utf-8"
            self._send(conn, 200, kind, body, head_only=method == "HEAD")
        elif path.startswith("/static/"):
            self._send(conn, 404, "text/plain; charset=utf-8", b"Not Found")
        else:
            self._starting(conn)

    def _starting(self, conn: socket.socket) -> None:
        body = _error("agentel ui is starting; retry in a moment")
        self._send(conn, 503, "application/json", body, extra=[(b"retry-after", b"1")])

    @staticmethod
    def _send(
        conn: socket.socket,
        status: int,
        kind: str,
        body: bytes,
        *,
        head_only: bool = False,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        reason = {200: "OK", 404: "Not Found", 421: "Misdirected Request"}.get(
            status, "Service Unavailable"
        )
        headers = [
            (b"content-type", kind.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
            *SECURITY_HEADERS,
            *(extra or []),
        ]
        lines = [f"HTTP/1.1 {status} {reason}".encode()] + [k + b": " + v for k, v in headers]
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head_only else body))


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def serve(
    config: UIConfig,
    host: str = "127.0.0.1",
    port: int = 6007,
    *,
    open_browser: bool = False,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the UI until Ctrl-C (or SIGTERM), then close the stores.

    Any host but a loopback one needs a token (``UIError`` otherwise): the UI shows prompts
    and outputs, and records feedback. The store is opened (and so checked) before uvicorn
    takes over from the :class:`Prelude`; opening it fails with the store's error.
    """
    if not loopback(host) and not config.token:
        raise UIError(
            f"refusing to serve on {host} without a token: pass --token "
            "(or set AGENTEL_UI_TOKEN), or bind to 127.0.0.1"
        )
    if config.token is None and config.allowed_hosts is None:
        config.allowed_hosts = frozenset({"127.0.0.1", "localhost", "::1", host})
    sock = bind(host, port)
    prelude = Prelude(sock, config) if config.token is None else None
    try:
        if prelude is not None:
            prelude.start()
        url = address(host, sock.getsockname()[1], config.token)
        announce(url)
        if open_browser:
            threading.Timer(0.3, webbrowser.open, args=(url,)).start()
        import uvicorn

        from agentel.store import open_store
        from agentel.ui.app import create_app

        if config.store is None and config.store_url is not None:
            open_store(config.store_url).close()  # a bad file or server fails here
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                log_level="warning",
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=3,
            )
        )
        if prelude is not None:
            prelude.stop()
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
        pass
    finally:
        if prelude is not None:
            prelude.stop()
        sock.close()
