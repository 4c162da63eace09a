"""What ``agentel ui`` needs before its heavy modules load: the configuration, the security
headers, the page shell and the Host check. Nothing here imports Starlette or the store, so the
server can answer its first page while those load (:mod:`agentel.ui.server`)."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentel.store import Store

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
PAGES = ("/", "/runs", "/conversations", "/stats", "/compare")


@dataclass
class UIConfig:
    """What the app serves and how it is guarded.

    ``store_url`` is opened once per worker thread (SQLite) or once (MongoDB, memory); a
    given ``store`` object is shared as it is (tests). ``token``: required on every request
    when set. ``allowed_hosts``: when set, requests whose Host header names another host are
    refused (a page on another site cannot reach a localhost server by DNS rebinding).
    ``receiver``: serve OTLP/HTTP ``POST /v1/traces`` into the store too (the receiver's
    route, with its limits; the token applies to it as to everything else).
    """

    store_url: str | None = None
    store: Store | None = None
    token: str | None = None
    allowed_hosts: frozenset[str] | None = None
    receiver: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


def page_html(config: UIConfig) -> str:
    """The one HTML page every path of the app is served (the router is in app.js)."""
    return (STATIC / "index.html").read_text(encoding="utf-8").replace("{{csrf}}", config.csrf)


def is_page(path: str) -> bool:
    """Whether ``path`` is one of the app's pages (served the page shell)."""
    return path in PAGES or (path.startswith("/run/") and len(path) > len("/run/"))


def host_name(header: str) -> str:
    """The host name of a Host header, without its port (IPv6 without brackets), lower case."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def loopback(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (the only hosts served without a token)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
