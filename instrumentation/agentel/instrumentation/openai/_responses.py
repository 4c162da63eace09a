"""Responses API (``responses.create`` / ``parse`` / ``stream``): request, response, stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .. import _parts as P
from .._call import ProviderCall
from .._common import as_token_count, guarded, server_attributes
from .._config import InstrumentationConfig
from .._wrappers import LLMRequest
from ._chat import (
    _record_tier,
    base_url,
    integer,
    model_of,
    number,
    proxy_stream,
    tool_call_event,
    unwrap_raw,
)

_SITE = "openai.responses"
_TOOL_CALL_ITEMS = ("function_call", "custom_tool_call")
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _output_type(text: Any) -> str | None:
    kind = P.get(P.get(text, "format"), "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    return "text" if kind == "text" else None


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [P.text(content)]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, (list, tuple)) else ():
        kind = P.get(part, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(P.text(P.get(part, "text")))
        elif kind == "refusal":
            parts.append(P.text(P.get(part, "refusal")))
        else:
            parts.append({"type": str(kind)})
    return parts


def input_messages(items: Any) -> list[dict[str, Any]] | None:
    """Responses ``input`` (a string or a list of items) in the official message shape."""
    if isinstance(items, str):
        return [{"role": "user", "parts": [P.text(items)]}]
    if not isinstance(items, (list, tuple)):
        return None
    out: list[dict[str, Any]] = []
    for item in items:
        kind = P.get(item, "type")
        if kind in _TOOL_CALL_ITEMS:
            args = P.get(item, "arguments") or P.get(item, "input")
            part = P.tool_call(P.get(item, "call_id"), P.get(item, "name"), args)
            out.append({"role": "assistant", "parts": [part]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            response = P.tool_response(P.get(item, "call_id"), P.plain_text(P.get(item, "output")))
            out.append({"role": "tool", "parts": [response]})
        elif P.get(item, "role") is not None:
            out.append(
                {"role": P.get(item, "role"), "parts": _content_parts(P.get(item, "content"))}
            )
        else:
            out.append({"role": "assistant", "parts": [{"type": str(kind)}]})
    return out


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    return P.tool_definitions(tools, _tool_definition)


def _tool_definition(tool: Any) -> dict[str, Any]:
    entry = P.tool_definition(P.get(tool, "type"), P.get(tool, "name"), tool)
    return {k: v for k, v in entry.items() if v is not None}


def responses_request(
    config: InstrumentationConfig, instance: Any, args: tuple, kwargs: Mapping[str, Any]
) -> LLMRequest | None:
    """Span name and start attributes for a ``responses.create`` / ``parse`` call."""
    model = model_of(kwargs)
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.CHAT,
        A.GEN_AI_PROVIDER_NAME: Provider.OPENAI,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_REQUEST_TEMPERATURE: number(kwargs.get("temperature")),
        A.GEN_AI_REQUEST_TOP_P: number(kwargs.get("top_p")),
        A.GEN_AI_REQUEST_MAX_TOKENS: integer(kwargs.get("max_output_tokens")),
        A.GEN_AI_OUTPUT_TYPE: _output_type(kwargs.get("text")),
        A.GEN_AI_REQUEST_STREAM: True if kwargs.get("stream") is True else None,
    }
    if isinstance(kwargs.get("text_format"), type):
        attrs[A.GEN_AI_OUTPUT_TYPE] = "json"
    tier = kwargs.get("service_tier")
    if isinstance(tier, str) and tier != "auto":
        attrs[A.OPENAI_REQUEST_SERVICE_TIER] = tier
    attrs.update(server_attributes(base_url(instance)))
    request = LLMRequest(Operation.CHAT, Provider.OPENAI, model, attrs)
    if config.capture_content:
        instructions = kwargs.get("instructions")
        request.content = {
            A.GEN_AI_SYSTEM_INSTRUCTIONS: (
                [P.text(instructions)] if isinstance(instructions, str) else None
            ),
            A.GEN_AI_INPUT_MESSAGES: input_messages(kwargs.get("input")),
            A.GEN_AI_TOOL_DEFINITIONS: tool_definitions(kwargs.get("tools")),
        }
    return request


def request_extractor(
    config: InstrumentationConfig,
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return responses_request(config, instance, args, kwargs)

    return extract


def _finish_reason(response: Any) -> str | None:
    """Responses have a status, not a finish reason: map it to the chat vocabulary."""
    output = getattr(response, "output", None) or ()
    if any(getattr(item, "type", None) in _TOOL_CALL_ITEMS for item in output):
        return "tool_calls"
    status = getattr(response, "status", None)
    if status == "incomplete":
        reason = getattr(getattr(response, "incomplete_details", None), "reason", None)
        return "length" if reason == "max_output_tokens" else (reason or "incomplete")
    if status == "completed":
        return "stop"
    return status if isinstance(status, str) else None


def record_response(call: ProviderCall, response: Any) -> None:
    reason = _finish_reason(response)
    call.set_response(
        model=getattr(response, "model", None),
        id=getattr(response, "id", None),
        finish_reasons=[reason] if reason else None,
    )
    _record_tier(call, response)
    usage = getattr(response, "usage", None)
    if usage is not None:
        call.set_usage(
            input_tokens=as_token_count(getattr(usage, "input_tokens", None)),
            output_tokens=as_token_count(getattr(usage, "output_tokens", None)),
            cache_read_tokens=as_token_count(
                getattr(getattr(usage, "input_tokens_details", None), "cached_tokens", None)
            ),
            cache_write_tokens=as_token_count(
                getattr(getattr(usage, "input_tokens_details", None), "cache_write_tokens", None)
            ),
            reasoning_tokens=as_token_count(
                getattr(getattr(usage, "output_tokens_details", None), "reasoning_tokens", None)
            ),
        )
    output = getattr(response, "output", None) or ()
    for item in output:
        if getattr(item, "type", None) in _TOOL_CALL_ITEMS:
            args = getattr(item, "arguments", None) or getattr(item, "input", None)
            tool_call_event(
                call, getattr(item, "name", None), getattr(item, "call_id", None), item.type, args
            )
    if call.capture_content:
        call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output_messages(output, reason))


def _output_messages(output: Any, reason: str | None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in output:
        kind = getattr(item, "type", None)
        if kind == "message":
            parts.extend(_content_parts(getattr(item, "content", None)))
        elif kind == "reasoning":
            summary = "".join(getattr(s, "text", "") or "" for s in getattr(item, "summary", ()))
            parts.append({"type": "reasoning", "content": summary})
        elif kind in _TOOL_CALL_ITEMS:
            args = getattr(item, "arguments", None) or getattr(item, "input", None)
            parts.append(
                P.tool_call(getattr(item, "call_id", None), getattr(item, "name", None), args)
            )
        else:
            parts.append({"type": str(kind)})
    return [{"role": "assistant", "parts": parts, "finish_reason": P.finish_reason(reason)}]


def handle_response(call: ProviderCall, result: Any) -> Any:
    """Record a Responses API response, or wrap its event stream."""
    stream = proxy_stream(call, result, ResponsesStreamObserver)
    if stream is not None:
        return stream
    with guarded(f"{_SITE}.response", "read the response"):
        response = unwrap_raw(result)
        if hasattr(response, "output"):
            record_response(call, response)
    return None


# the events that carry output: time to first chunk is measured at the first of them
_OUTPUT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.refusal.delta",
    }
)


class ResponsesStreamObserver:
    """Running state of a streamed response: the final response event carries everything."""

    __slots__ = ("calls", "capture", "created", "final", "output")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.output = False  # a text, function-call arguments or refusal delta has arrived
        self.created: Any = None
        self.final: Any = None
        self.calls: dict[str, Any] = {}  # item id -> function call item, until the final event

    def on_chunk(self, event: Any) -> None:
        kind = event.type
        if kind in _OUTPUT_DELTAS:
            self.output = True
        elif kind in _FINAL_EVENTS:
            self.final = event.response
        elif kind == "response.created":
            self.created = event.response
        elif kind == "response.output_item.done" and event.item.type in _TOOL_CALL_ITEMS:
            self.calls[event.item.id] = event.item

    def finish(self, call: ProviderCall) -> None:
        if self.final is not None:
            record_response(call, self.final)
            return
        if self.created is not None:  # cut short: what the first event said
            call.set_response(model=self.created.model, id=self.created.id)
        for item in self.calls.values():
            args = getattr(item, "arguments", None) or getattr(item, "input", None)
            tool_call_event(call, item.name, item.call_id, item.type, args)
