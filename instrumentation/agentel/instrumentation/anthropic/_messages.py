"""Anthropic Messages (``messages.create`` / ``parse`` / ``stream()``): request, response, stream.

Token mapping (official GenAI convention: input tokens INCLUDE cached tokens):

- ``gen_ai.usage.input_tokens`` = ``input_tokens + cache_read_input_tokens +
  cache_creation_input_tokens`` (Anthropic's ``input_tokens`` counts only uncached input);
- ``gen_ai.usage.cache_read.input_tokens`` = ``cache_read_input_tokens``;
- ``gen_ai.usage.cache_creation.input_tokens`` = ``cache_creation_input_tokens``;
- ``gen_ai.usage.output_tokens`` = ``output_tokens`` (thinking included, as billed);
- ``gen_ai.usage.reasoning.output_tokens`` = ``usage.output_tokens_details.thinking_tokens``
  when the API reports it; never estimated from the thinking text.

Duck typing only: nothing here imports ``anthropic``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .. import _parts as P
from .._call import ProviderCall
from .._common import as_token_count, guarded, server_attributes
from .._config import InstrumentationConfig
from .._streams import proxy_class
from .._wrappers import LLMRequest

TOOL_CALL_EVENT = "tool_call"  # -> "agentel.tool_call", as for OpenAI
_TOOL_BLOCKS = ("tool_use", "server_tool_use", "mcp_tool_use")
_SITE = "anthropic.messages"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # also drops the SDK's omit / NOT_GIVEN sentinels
    return value


def _base_url(instance: Any) -> Any:
    return getattr(getattr(instance, "_client", None), "base_url", None)


def _block_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [P.text(content)]
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, (list, tuple)) else ():
        kind = P.get(block, "type")
        if kind == "text":
            parts.append(P.text(P.get(block, "text")))
        elif kind in _TOOL_BLOCKS:
            parts.append(
                P.tool_call(P.get(block, "id"), P.get(block, "name"), P.get(block, "input"))
            )
        elif kind == "tool_result":
            response = P.plain_text(P.get(block, "content"))
            parts.append(P.tool_response(P.get(block, "tool_use_id"), response))
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": P.get(block, "thinking")})
        else:
            parts.append({"type": str(kind)})
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]] | None:
    if not isinstance(messages, (list, tuple)):
        return None
    return [
        {"role": P.get(m, "role"), "parts": _block_parts(P.get(m, "content"))} for m in messages
    ]


def system_instructions(system: Any) -> list[dict[str, Any]] | None:
    if isinstance(system, str):
        return [P.text(system)]
    if isinstance(system, (list, tuple)):
        return _block_parts(system)
    return None


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    return P.tool_definitions(tools, _tool_definition)


def _tool_definition(tool: Any) -> dict[str, Any]:
    kind = P.get(tool, "type")
    kind = "function" if kind in (None, "custom") else kind
    return P.tool_definition(kind, P.get(tool, "name"), tool, "input_schema")


def messages_request(
    config: InstrumentationConfig,
    instance: Any,
    args: tuple,
    kwargs: Mapping[str, Any],
    *,
    stream: bool = False,
) -> LLMRequest | None:
    """Span name and start attributes for ``messages.create`` / ``parse`` / ``stream``."""
    model = kwargs.get("model")
    model = model if isinstance(model, str) and model else None
    stops = kwargs.get("stop_sequences")
    max_tokens = kwargs.get("max_tokens")
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.CHAT,
        A.GEN_AI_PROVIDER_NAME: Provider.ANTHROPIC,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_REQUEST_MAX_TOKENS: (
            max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else None
        ),
        A.GEN_AI_REQUEST_TEMPERATURE: _number(kwargs.get("temperature")),
        A.GEN_AI_REQUEST_TOP_P: _number(kwargs.get("top_p")),
        A.GEN_AI_REQUEST_TOP_K: _number(kwargs.get("top_k")),
        A.GEN_AI_REQUEST_STOP_SEQUENCES: (
            tuple(stops)
            if isinstance(stops, (list, tuple)) and all(isinstance(s, str) for s in stops)
            else None
        ),
        A.GEN_AI_REQUEST_STREAM: True if stream or kwargs.get("stream") is True else None,
    }
    attrs.update(server_attributes(_base_url(instance)))
    request = LLMRequest(Operation.CHAT, Provider.ANTHROPIC, model, attrs)
    if config.capture_content:
        request.content = {
            A.GEN_AI_SYSTEM_INSTRUCTIONS: system_instructions(kwargs.get("system")),
            A.GEN_AI_INPUT_MESSAGES: input_messages(kwargs.get("messages")),
            A.GEN_AI_TOOL_DEFINITIONS: tool_definitions(kwargs.get("tools")),
        }
    return request


def request_extractor(
    config: InstrumentationConfig, *, stream: bool = False
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return messages_request(config, instance, args, kwargs, stream=stream)

    return extract


# --- response ------------------------------------------------------------------------------------


def record_usage(call: ProviderCall, usage: Any, *, with_output: bool = True) -> None:
    """Anthropic usage -> GenAI usage (see the module docstring for the mapping)."""
    if usage is None:
        return
    uncached = as_token_count(getattr(usage, "input_tokens", None))
    cache_read = as_token_count(getattr(usage, "cache_read_input_tokens", None))
    cache_write = as_token_count(getattr(usage, "cache_creation_input_tokens", None))
    details = getattr(usage, "output_tokens_details", None)
    call.set_usage(
        input_tokens=(
            None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0)
        ),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=as_token_count(getattr(usage, "output_tokens", None))
        if with_output
        else None,
        reasoning_tokens=(
            as_token_count(getattr(details, "thinking_tokens", None)) if with_output else None
        ),
    )


def _tool_event(call: ProviderCall, name: Any, call_id: Any, kind: Any, args: Any) -> None:
    data: dict[str, Any] = {
        A.GEN_AI_TOOL_NAME: name,
        A.GEN_AI_TOOL_CALL_ID: call_id,
        A.GEN_AI_TOOL_TYPE: "function" if kind == "tool_use" else kind,
    }
    if call.capture_content and args is not None:
        from .._content import encode

        data[A.GEN_AI_TOOL_CALL_ARGUMENTS] = encode(P.arguments(args), call.config)
    call.record_event(TOOL_CALL_EVENT, **data)


def record_message(call: ProviderCall, message: Any) -> None:
    stop = getattr(message, "stop_reason", None)
    call.set_response(
        model=getattr(message, "model", None),
        id=getattr(message, "id", None),
        finish_reasons=[stop] if stop else None,
    )
    record_usage(call, getattr(message, "usage", None))
    content = getattr(message, "content", None) or ()
    for block in content:
        kind = getattr(block, "type", None)
        if kind in _TOOL_BLOCKS:
            args = getattr(block, "input", None)
            _tool_event(call, getattr(block, "name", None), getattr(block, "id", None), kind, args)
    if call.capture_content:
        output = {"role": "assistant", "parts": _block_parts(list(content))}
        output["finish_reason"] = P.finish_reason(stop)
        call.add_content(A.GEN_AI_OUTPUT_MESSAGES, [output])


def _message(result: Any) -> Any:
    if hasattr(result, "content") and hasattr(result, "stop_reason"):
        return result
    # with_raw_response (sync): an APIResponse whose body is already read; parse() caches, so
    # the caller's own parse() gets the same object. The async one parses with an await:
    # its span keeps the request attributes only.
    if type(result).__name__ in ("APIResponse", "LegacyAPIResponse") and (
        getattr(result, "_is_sse_stream", None) is False
        or getattr(result, "_stream", None) is False
    ):
        parsed = result.parse()
        return parsed if hasattr(parsed, "stop_reason") else None
    return None


def handle_response(call: ProviderCall, result: Any) -> Any:
    """Record a Message, or wrap a raw event stream (``stream=True``) to observe it."""
    proxy = proxy_class(result)
    if proxy is not None:
        return proxy(result, call, MessagesStreamObserver(call.capture_content))
    with guarded(f"{_SITE}.response", "read the message"):
        message = _message(result)
        if message is not None:
            record_message(call, message)
    return None


# content deltas that carry output: time to first chunk is measured at the first of them
_OUTPUT_DELTAS = frozenset({"text_delta", "input_json_delta", "citations_delta"})


class MessagesStreamObserver:
    """Running state of a streamed message (constant size unless capturing content).

    ``message_start`` carries the id, model and input usage; ``message_delta`` the stop
    reason and final output usage. A stream cut before ``message_delta`` records the input
    usage only (``message_start``'s output count is a placeholder).
    """

    __slots__ = ("blocks", "capture", "delta_usage", "id", "model", "output", "start_usage", "stop")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.output = False  # a text or tool-input delta has arrived (thinking is not output)
        self.id: Any = None
        self.model: Any = None
        self.stop: Any = None
        self.start_usage: Any = None
        self.delta_usage: Any = None
        # index -> [type, id, name, pieces or None]; text/thinking blocks only when capturing
        self.blocks: dict[int, list[Any]] = {}

    def on_chunk(self, event: Any) -> None:
        kind = event.type
        if kind == "content_block_delta":
            if not self.output and event.delta.type in _OUTPUT_DELTAS:
                self.output = True
            if self.capture:
                entry = self.blocks.get(event.index)
                delta = event.delta
                piece = getattr(delta, "text", None) or getattr(delta, "partial_json", None)
                piece = piece or getattr(delta, "thinking", None)
                if entry is not None and entry[3] is not None and piece:
                    entry[3].append(piece)
        elif kind == "content_block_start":
            block = event.content_block
            btype = block.type
            if btype in _TOOL_BLOCKS or self.capture:
                pieces = [] if self.capture else None
                self.blocks[event.index] = [
                    btype,
                    getattr(block, "id", None),
                    getattr(block, "name", None),
                    pieces,
                ]
        elif kind == "message_delta":
            self.stop = event.delta.stop_reason or self.stop
            self.delta_usage = event.usage
        elif kind == "message_start":
            message = event.message
            self.id = message.id
            self.model = message.model
            self.start_usage = message.usage

    def finish(self, call: ProviderCall) -> None:
        call.set_response(
            model=self.model, id=self.id, finish_reasons=[self.stop] if self.stop else None
        )
        record_usage(call, self.start_usage, with_output=False)
        if self.delta_usage is not None:
            self._delta_usage(call, self.delta_usage)
        for index in sorted(self.blocks):
            btype, block_id, name, pieces = self.blocks[index]
            if btype in _TOOL_BLOCKS:
                args = "".join(pieces) if pieces is not None else None
                _tool_event(call, name, block_id, btype, args)
        if self.capture:
            call.add_content(A.GEN_AI_OUTPUT_MESSAGES, [self._output_message()])

    @staticmethod
    def _delta_usage(call: ProviderCall, usage: Any) -> None:
        # message_delta usage is cumulative; its input fields (when present) are final too
        if getattr(usage, "input_tokens", None) is not None:
            record_usage(call, usage)
        else:
            details = getattr(usage, "output_tokens_details", None)
            call.set_usage(
                output_tokens=as_token_count(getattr(usage, "output_tokens", None)),
                reasoning_tokens=as_token_count(getattr(details, "thinking_tokens", None)),
            )

    def _output_message(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        for index in sorted(self.blocks):
            btype, block_id, name, pieces = self.blocks[index]
            joined = "".join(pieces or ())
            if btype == "text":
                parts.append(P.text(joined))
            elif btype == "thinking":
                parts.append({"type": "reasoning", "content": joined})
            elif btype in _TOOL_BLOCKS:
                parts.append(P.tool_call(block_id, name, joined or "{}"))
            else:
                parts.append({"type": str(btype)})
        return {"role": "assistant", "parts": parts, "finish_reason": P.finish_reason(self.stop)}
