"""OpenTelemetry instrumentation for the Model Context Protocol SDK (``mcp``).

    from agentel.instrumentation.mcp import MCPInstrumentor
    MCPInstrumentor().instrument(tracer_provider=provider)

Client side, every request a ``ClientSession`` makes for a tool, resource or prompt gets a
CLIENT span: ``tools/call`` becomes ``execute_tool {tool}`` (a tool call of the run, with
``gen_ai.tool.*``, ``mcp.*``, the server's announced name and the result's error flag; the
arguments and result only with content capture on), the others ``{mcp.method.name} [target]``.

Server side, the MCP SDK (2.x) already opens a SERVER span per request under the trace
context the client sent in the request's ``_meta`` field, so a tool served by another
process joins the caller's trace and run. This instrumentor adds a server middleware that
records the tool's arguments and result on that span when content capture is on. The store
counts a tool call once when the server's span of the same tool nests inside the client's.
``mcp`` is imported only when instrumenting.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._config import InstrumentationConfig
from .._patching import apply, restore
from ..version import __version__
from ._client import CLIENT_METHODS, client_wrapper, initialize_wrapper
from ._server import server_init_wrapper

_INSTRUMENTS = ("mcp >= 2.0",)


class MCPInstrumentor(BaseInstrumentor):
    """Instrument MCP client sessions and servers.

    ``instrument(tracer_provider=None, capture_content=None, redact=None)``.
    """

    _import_name = "mcp"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _patched: list[tuple[str, str]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        config = InstrumentationConfig.resolve(
            capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
        )
        patches = [
            ("mcp.client.session", f"ClientSession.{name}", client_wrapper(method, tracer, config))
            for name, method in CLIENT_METHODS.items()
        ]
        patches.append(("mcp.client.session", "ClientSession.initialize", initialize_wrapper()))
        patches.append(
            ("mcp.server.lowlevel.server", "Server.__init__", server_init_wrapper(config))
        )
        self._patched = apply(patches)

    def _uninstrument(self, **kwargs: Any) -> None:
        restore(getattr(self, "_patched", ()))
        self._patched = []
