"""Client-side spans for MCP requests made through ``mcp.client.session.ClientSession``."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from .._common import clean_attributes, log_once, record_error
from .._config import InstrumentationConfig
from .._content import record_content

CLIENT_METHODS: dict[str, str] = {
    "call_tool": "tools/call",
    "list_tools": "tools/list",
    "list_resources": "resources/list",
    "list_resource_templates": "resources/templates/list",
    "read_resource": "resources/read",
    "list_prompts": "prompts/list",
    "get_prompt": "prompts/get",
}
"""``ClientSession`` method -> the MCP method it sends."""

TOOL_ERROR = "tool_error"
"""``error.type`` of a tool call whose result came back with ``isError`` set."""


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None


def _session_attributes(session: Any) -> dict[str, Any]:
    """What the session learned at initialization: protocol version and the server's name."""
    values: dict[str, Any] = {}
    version = getattr(session, "protocol_version", None)
    if isinstance(version, str):
        values[A.MCP_PROTOCOL_VERSION] = version
    info = getattr(session, "server_info", None)
    name = getattr(info, "name", None)
    if isinstance(name, str):
        values[A.AGENTEL_MCP_SERVER_NAME] = name
    return values


def describe(
    method: str, session: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Span name and start attributes for one client request."""
    attributes: dict[str, Any] = {A.MCP_METHOD_NAME: method, **_session_attributes(session)}
    name = method
    if method == "tools/call":
        tool = str(_argument(args, kwargs, 0, "name"))
        attributes[A.GEN_AI_OPERATION_NAME] = Operation.EXECUTE_TOOL
        attributes[A.GEN_AI_TOOL_NAME] = tool
        name = f"{Operation.EXECUTE_TOOL} {tool}"
    elif method == "prompts/get":
        prompt = str(_argument(args, kwargs, 0, "name"))
        attributes[A.GEN_AI_PROMPT_NAME] = prompt
        name = f"{method} {prompt}"
    elif method == "resources/read":
        attributes[A.MCP_RESOURCE_URI] = str(_argument(args, kwargs, 0, "uri"))
    return name, attributes


def tool_result_content(result: Any) -> Any:
    """A tool result as recordable content: its structured value, else its blocks' texts.

    ``result`` is a ``CallToolResult`` (client) or its wire form, a dict (a server handler's
    reply); a block without text is recorded by its type only.
    """
    structured = _get(result, "structured_content", "structuredContent")
    if structured is not None:
        return structured
    texts: list[str] = []
    for block in _get(result, "content") or ():
        text = _get(block, "text")
        texts.append(text if isinstance(text, str) else f"[{_get(block, 'type') or 'content'}]")
    return "\n".join(texts)


def _get(value: Any, name: str, wire_name: str | None = None) -> Any:
    """``value.name`` for SDK objects, ``value[wire_name or name]`` for their wire dicts."""
    if isinstance(value, dict):
        return value.get(wire_name or name)
    return getattr(value, name, None)


def _finish_tool_call(
    span: trace.Span, config: InstrumentationConfig, arguments: Any, result: Any
) -> None:
    if getattr(result, "is_error", False) is True:
        span.set_attribute(A.ERROR_TYPE, TOOL_ERROR)
        span.set_status(Status(StatusCode.ERROR))
    if config.capture_content:
        record_content(
            span,
            config,
            {
                A.GEN_AI_TOOL_CALL_ARGUMENTS: arguments,
                A.GEN_AI_TOOL_CALL_RESULT: tool_result_content(result),
            },
        )


def client_wrapper(
    method: str, tracer: trace.Tracer, config: InstrumentationConfig
) -> Callable[..., Any]:
    """A wrapt wrapper for the ``ClientSession`` coroutine method that sends ``method``."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            name, attributes = describe(method, instance, args, kwargs)
            span = tracer.start_span(
                name, kind=SpanKind.CLIENT, attributes=clean_attributes(attributes)
            )
            token = context.attach(trace.set_span_in_context(span))
        except Exception:
            log_once(f"mcp.{method}.start", f"could not start the span for MCP {method}")
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            record_error(span, exc)
            raise
        else:
            if method == "tools/call":
                try:
                    _finish_tool_call(span, config, _argument(args, kwargs, 1, "arguments"), result)
                except Exception:
                    log_once("mcp.tools/call.finish", "could not record the MCP tool result")
            return result
        finally:
            try:
                context.detach(token)
            finally:
                span.end()

    return wrapper


def unsampled_context() -> context.Context:
    """A context whose parent span is valid but not sampled.

    Under the default parent-based sampler nothing started in it is recorded, and the trace
    context the MCP SDK propagates from it tells the server not to record either.
    """
    parent = SpanContext(
        trace_id=random.getrandbits(128) | 1,
        span_id=random.getrandbits(64) | 1,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


def initialize_wrapper() -> Callable[..., Any]:
    """A wrapt wrapper for ``ClientSession.initialize``: a handshake made outside any trace is
    connection plumbing, not a run, so it is sent unsampled instead of starting a trace of its
    own on both sides. Inside a recorded span it is traced as usual."""

    async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        token = None
        try:
            if not trace.get_current_span().get_span_context().is_valid:
                token = context.attach(unsampled_context())
        except Exception:
            log_once("mcp.initialize", "could not prepare the MCP handshake's context")
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if token is not None:
                context.detach(token)

    return wrapper
