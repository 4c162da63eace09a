"""Server side: middlewares around the MCP SDK's own server spans.

``HandshakeMiddleware`` keeps session plumbing that arrives with no trace context
(``initialize``, notifications) from becoming a trace, and so a run, of its own;
``ContentMiddleware`` records a tool's arguments and result when content capture is on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context, propagate, trace

from agentel.semconv import attributes as A

from .._common import log_once
from .._config import InstrumentationConfig
from .._content import record_content
from ._client import tool_result_content, unsampled_context


def _is_plumbing(ctx: Any) -> bool:
    method = getattr(ctx, "method", None)
    return isinstance(method, str) and (
        method == "initialize" or method.startswith("notifications/")
    )


def _has_trace_context(ctx: Any) -> bool:
    meta = getattr(ctx, "meta", None)
    if not meta:
        return False
    carried = trace.get_current_span(propagate.extract(dict(meta)))
    return carried.get_span_context().is_valid


class HandshakeMiddleware:
    """Runs ``initialize`` and notifications that carry no trace context unsampled.

    The MCP SDK's server middleware would otherwise start a new trace for each of them, and
    every MCP session would leave runs that are only its handshake in the store.
    """

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        token = None
        try:
            if _is_plumbing(ctx) and not _has_trace_context(ctx):
                token = context.attach(unsampled_context())
        except Exception:
            log_once("mcp.server.handshake", "could not prepare an MCP handshake's context")
        try:
            return await call_next(ctx)
        finally:
            if token is not None:
                context.detach(token)


class ContentMiddleware:
    """Records a ``tools/call``'s arguments and result on the current (SDK's server) span.

    Added to every ``mcp`` low-level ``Server`` (``MCPServer`` builds one) only when content
    capture is on; it never changes the request or the result.
    """

    def __init__(self, config: InstrumentationConfig) -> None:
        self._config = config

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        result = await call_next(ctx)
        if getattr(ctx, "method", None) == "tools/call":
            try:
                params = getattr(ctx, "params", None) or {}
                content = {
                    A.GEN_AI_TOOL_CALL_ARGUMENTS: params.get("arguments"),
                    A.GEN_AI_TOOL_CALL_RESULT: tool_result_content(result),
                }
                record_content(trace.get_current_span(), self._config, content)
            except Exception:
                log_once("mcp.server.content", "could not record the MCP tool's content")
        return result


def server_init_wrapper(config: InstrumentationConfig) -> Callable[..., Any]:
    """A wrapt wrapper for ``Server.__init__`` that adds agentel's middlewares: the handshake
    one outermost, the content one (only with content capture on) innermost."""

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            instance.middleware.insert(0, HandshakeMiddleware())
            if config.capture_content:
                instance.middleware.append(ContentMiddleware(config))
        except Exception:
            log_once("mcp.server.init", "could not add agentel's MCP server middlewares")
        return result

    return wrapper
