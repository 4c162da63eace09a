"""Run the ``agentel ui`` app with uvicorn on a socket bound before the first request."""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import Callable

from agentel.ui.app import UIConfig, create_app, loopback


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
    and outputs, and records feedback.
    """
    import uvicorn

    if not loopback(host) and not config.token:
        raise UIError(
            f"refusing to serve on {host} without a token: pass --token "
            "(or set AGENTEL_UI_TOKEN), or bind to 127.0.0.1"
        )
    if config.token is None and config.allowed_hosts is None:
        config.allowed_hosts = frozenset({"127.0.0.1", "localhost", "::1", host})
    sock = bind(host, port)
    url = address(host, sock.getsockname()[1], config.token)
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=3,
        )
    )
    announce(url)
    if open_browser:
        threading.Timer(0.3, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
        pass
    finally:
        sock.close()
