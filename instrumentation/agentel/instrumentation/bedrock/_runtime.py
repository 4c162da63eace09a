"""Bedrock runtime operations: request, response and stream, for Converse and InvokeModel.

Token mapping (official GenAI convention: input includes cached):

- Converse / Nova: ``input = inputTokens + cacheReadInputTokens + cacheWriteInputTokens``
  (Bedrock reports them apart; Nova bodies spell them ``...InputTokenCount``);
- Anthropic bodies: as on Anthropic's API (``input_tokens`` + cache read + cache creation);
- Llama bodies: ``prompt_token_count`` / ``generation_token_count``;
- otherwise the ``x-amzn-bedrock-input-token-count`` / ``-output-token-count`` headers, or a
  stream's ``amazon-bedrock-invocationMetrics``.

``gen_ai.response.id`` is the Anthropic message id when the body has one, else the AWS
request id. Duck typing and plain dicts only: nothing here imports ``botocore`` at import
time (``StreamingBody`` is imported when an InvokeModel body is re-wrapped).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .. import _parts as P
from .._call import ProviderCall
from .._common import as_token_count, log_once, server_attributes
from .._config import InstrumentationConfig
from .._streams import AsyncStreamProxy, StreamProxy
from .._wrappers import LLMRequest
from ..anthropic import _messages as anthropic_messages
from ..openai._chat import integer, number, tool_call_event

_SITE = "bedrock"
_OPERATIONS = {
    "Converse": (False, False),  # (invoke body, stream)
    "ConverseStream": (False, True),
    "InvokeModel": (True, False),
    "InvokeModelWithResponseStream": (True, True),
}
_FAMILY = re.compile(r"^(?:[a-z-]+\.)?(anthropic|amazon|meta|mistral|cohere|ai21|deepseek)\.")


def family(model: Any) -> str | None:
    """The InvokeModel body family of a model id (``us.anthropic.claude...`` -> anthropic)."""
    found = _FAMILY.match(model) if isinstance(model, str) else None
    return found.group(1) if found else None


def _stops(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


# --- request -------------------------------------------------------------------------------------

# body / inferenceConfig key -> (attribute, reader), every spelling the families use
_PARAMS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "maxTokens": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "max_tokens": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "max_new_tokens": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "max_gen_len": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "temperature": (A.GEN_AI_REQUEST_TEMPERATURE, number),
    "topP": (A.GEN_AI_REQUEST_TOP_P, number),
    "top_p": (A.GEN_AI_REQUEST_TOP_P, number),
    "topK": (A.GEN_AI_REQUEST_TOP_K, number),
    "top_k": (A.GEN_AI_REQUEST_TOP_K, number),
    "stopSequences": (A.GEN_AI_REQUEST_STOP_SEQUENCES, _stops),
    "stop_sequences": (A.GEN_AI_REQUEST_STOP_SEQUENCES, _stops),
    "stop": (A.GEN_AI_REQUEST_STOP_SEQUENCES, _stops),
}


def _read_params(source: Any, attrs: dict[str, Any]) -> None:
    if not isinstance(source, Mapping):
        return
    for name, raw in source.items():
        param = _PARAMS.get(name)
        if param is not None and raw is not None and (value := param[1](raw)) is not None:
            attrs[param[0]] = value


def _invoke_body(params: Mapping[str, Any]) -> Any:
    body = params.get("body")
    if isinstance(body, (bytes, bytearray, str)):  # never consume a file-like body
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def _converse_parts(content: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, (list, tuple)) else ():
        if not isinstance(block, Mapping):
            continue
        if "text" in block:
            parts.append(P.text(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"] or {}
            parts.append(P.tool_call(use.get("toolUseId"), use.get("name"), use.get("input")))
        elif "toolResult" in block:
            result = block["toolResult"] or {}
            items = [i.get("text", i.get("json")) for i in result.get("content") or ()]
            response = items[0] if len(items) == 1 else items
            parts.append(P.tool_response(result.get("toolUseId"), response))
        elif "reasoningContent" in block:
            text = ((block["reasoningContent"] or {}).get("reasoningText") or {}).get("text")
            parts.append({"type": "reasoning", "content": text})
        else:
            kind = next(iter(block), "other")
            parts.append({"type": "blob" if kind in ("image", "document", "video") else kind})
    return parts


def _converse_messages(messages: Any) -> list[dict[str, Any]] | None:
    if not isinstance(messages, (list, tuple)):
        return None
    return [
        {"role": P.get(m, "role"), "parts": _converse_parts(P.get(m, "content"))} for m in messages
    ]


def _converse_tools(tool_config: Any) -> list[dict[str, Any]] | None:
    tools = P.get(tool_config, "tools")
    if not isinstance(tools, (list, tuple)) or not tools:
        return None
    out = []
    for tool in tools:
        spec = P.get(tool, "toolSpec")
        if spec is None:
            out.append(
                {"type": next(iter(tool), "other") if isinstance(tool, Mapping) else "other"}
            )
            continue
        entry: dict[str, Any] = {"type": "function", "name": P.get(spec, "name")}
        if P.get(spec, "description") is not None:
            entry["description"] = P.get(spec, "description")
        schema = P.get(P.get(spec, "inputSchema"), "json")
        if schema is not None:
            entry["parameters"] = schema
        out.append(entry)
    return out


def _prompt_messages(prompt: Any) -> list[dict[str, Any]] | None:
    return [{"role": "user", "parts": [P.text(prompt)]}] if isinstance(prompt, str) else None


def _invoke_content(kind: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "anthropic":
        return {
            A.GEN_AI_INPUT_MESSAGES: anthropic_messages.input_messages(body.get("messages")),
            A.GEN_AI_SYSTEM_INSTRUCTIONS: anthropic_messages.system_instructions(
                body.get("system")
            ),
            A.GEN_AI_TOOL_DEFINITIONS: anthropic_messages.tool_definitions(body.get("tools")),
        }
    if kind == "amazon":
        return {
            A.GEN_AI_INPUT_MESSAGES: _converse_messages(body.get("messages")),
            A.GEN_AI_SYSTEM_INSTRUCTIONS: _converse_parts(body.get("system")) or None,
            A.GEN_AI_TOOL_DEFINITIONS: _converse_tools(body.get("toolConfig")),
        }
    messages = body.get("messages")
    if isinstance(messages, list):  # Mistral chat-style bodies
        from ..openai._chat import input_messages

        return {A.GEN_AI_INPUT_MESSAGES: input_messages(messages)}
    return {A.GEN_AI_INPUT_MESSAGES: _prompt_messages(body.get("prompt"))}


def bedrock_request(
    config: InstrumentationConfig, instance: Any, args: tuple, kwargs: Mapping[str, Any]
) -> LLMRequest | None:
    """Span start for a bedrock-runtime model call; ``None`` for every other AWS call."""
    operation = args[0] if args else kwargs.get("operation_name")
    shape = _OPERATIONS.get(operation)  # type: ignore[arg-type]
    if shape is None:
        return None
    meta = getattr(instance, "meta", None)
    if getattr(getattr(meta, "service_model", None), "service_name", None) != "bedrock-runtime":
        return None
    params = args[1] if len(args) > 1 else kwargs.get("api_params")
    if not isinstance(params, Mapping):
        return None
    invoke, stream = shape
    model = params.get("modelId")
    model = model if isinstance(model, str) and model else None
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.CHAT,
        A.GEN_AI_PROVIDER_NAME: Provider.AWS_BEDROCK,
    }
    if model is not None:
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    if stream:
        attrs[A.GEN_AI_REQUEST_STREAM] = True
    body: Any = None
    if invoke:
        body = _invoke_body(params)
        if isinstance(body, Mapping):
            _read_params(body, attrs)
            _read_params(body.get("inferenceConfig"), attrs)
    else:
        _read_params(params.get("inferenceConfig"), attrs)
    attrs.update(server_attributes(getattr(meta, "endpoint_url", None)))
    request = LLMRequest(Operation.CHAT, Provider.AWS_BEDROCK, model, attrs, clean=True)
    if config.capture_content:
        if invoke:
            request.content = (
                _invoke_content(family(model), body) if isinstance(body, Mapping) else None
            )
        else:
            request.content = {
                A.GEN_AI_INPUT_MESSAGES: _converse_messages(params.get("messages")),
                A.GEN_AI_SYSTEM_INSTRUCTIONS: _converse_parts(params.get("system")) or None,
                A.GEN_AI_TOOL_DEFINITIONS: _converse_tools(params.get("toolConfig")),
            }
    return request


def request_extractor(
    config: InstrumentationConfig,
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return bedrock_request(config, instance, args, kwargs)

    return extract


# --- usage -----------------------------------------------------------------------------------


def _set_usage(
    call: ProviderCall,
    uncached: Any,
    output: Any,
    cache_read: Any = None,
    cache_write: Any = None,
    reasoning: Any = None,
) -> None:
    """Usage with the input reported apart from the cache (Bedrock, Anthropic)."""
    uncached = as_token_count(uncached)
    read, write = as_token_count(cache_read), as_token_count(cache_write)
    call.set_usage(
        input_tokens=None if uncached is None else uncached + (read or 0) + (write or 0),
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
    )


def _converse_usage(call: ProviderCall, usage: Any) -> None:
    if isinstance(usage, Mapping):
        _set_usage(
            call,
            usage.get("inputTokens"),
            usage.get("outputTokens"),
            usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount")),
            usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount")),
        )


def _anthropic_usage(call: ProviderCall, usage: Any, with_output: bool = True) -> None:
    if isinstance(usage, Mapping):
        details = usage.get("output_tokens_details") or {}
        _set_usage(
            call,
            usage.get("input_tokens"),
            usage.get("output_tokens") if with_output else None,
            usage.get("cache_read_input_tokens"),
            usage.get("cache_creation_input_tokens"),
            details.get("thinking_tokens") if with_output else None,
        )


def _request_id(result: Any) -> Any:
    return P.get(P.get(result, "ResponseMetadata"), "RequestId")


def _headers(result: Any) -> Mapping[str, Any]:
    return P.get(P.get(result, "ResponseMetadata"), "HTTPHeaders") or {}


# --- Converse --------------------------------------------------------------------------------


def _converse_tool_events(call: ProviderCall, content: Any) -> None:
    for block in content or ():
        use = block.get("toolUse") if isinstance(block, Mapping) else None
        if isinstance(use, Mapping):
            tool_call_event(
                call, use.get("name"), use.get("toolUseId"), "function", use.get("input")
            )


def _output(parts: list[dict[str, Any]], reason: Any) -> list[dict[str, Any]]:
    return [{"role": "assistant", "parts": parts, "finish_reason": P.finish_reason(reason)}]


def record_converse(call: ProviderCall, result: Mapping[str, Any]) -> None:
    reason = result.get("stopReason")
    call.set_response(id=_request_id(result), finish_reasons=[reason] if reason else None)
    _converse_usage(call, result.get("usage"))
    content = ((result.get("output") or {}).get("message") or {}).get("content")
    _converse_tool_events(call, content)
    if call.capture_content:
        call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output(_converse_parts(content), reason))


class ConverseStreamObserver:
    """Running state of a ConverseStream (constant size unless capturing content)."""

    __slots__ = ("blocks", "calls", "capture", "output", "reason", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.output = False  # a text or tool-input delta has arrived: time to first chunk
        self.reason: Any = None
        self.usage: Any = None
        self.calls: dict[int, list[Any]] = {}  # block index -> [id, name, input pieces]
        self.blocks: dict[int, list[Any]] = {}  # block index -> [kind, text pieces]

    def on_chunk(self, event: Any) -> None:
        if "contentBlockDelta" in event:
            delta_event = event["contentBlockDelta"]
            delta = delta_event.get("delta") or {}
            if not self.output and ("text" in delta or "toolUse" in delta):
                self.output = True
            if not self.capture and not self.calls:
                return
            index = delta_event.get("contentBlockIndex", 0)
            entry = self.calls.get(index)
            if entry is not None and "toolUse" in delta:
                if self.capture:
                    entry[2].append((delta["toolUse"] or {}).get("input") or "")
            elif self.capture and "text" in delta:
                self.blocks.setdefault(index, ["text", []])[1].append(delta["text"])
            elif self.capture and "reasoningContent" in delta:
                text = (delta["reasoningContent"] or {}).get("text") or ""
                self.blocks.setdefault(index, ["reasoning", []])[1].append(text)
        elif "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if isinstance(use, Mapping):
                index = start.get("contentBlockIndex", 0)
                self.calls[index] = [use.get("toolUseId"), use.get("name"), []]
        elif "messageStop" in event:
            self.reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")

    def finish(self, call: ProviderCall) -> None:
        call.set_response(finish_reasons=[self.reason] if self.reason else None)
        _converse_usage(call, self.usage)
        for index in sorted(self.calls):
            call_id, name, pieces = self.calls[index]
            args = "".join(pieces) if self.capture else None
            tool_call_event(call, name, call_id, "function", P.arguments(args))
        if self.capture:
            parts: list[dict[str, Any]] = []
            for index in sorted(set(self.blocks) | set(self.calls)):
                if index in self.calls:
                    call_id, name, pieces = self.calls[index]
                    parts.append(P.tool_call(call_id, name, "".join(pieces)))
                else:
                    kind, pieces = self.blocks[index]
                    text = "".join(pieces)
                    parts.append(
                        P.text(text) if kind == "text" else {"type": kind, "content": text}
                    )
            call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output(parts, self.reason))


# --- InvokeModel -----------------------------------------------------------------------------


def _anthropic_body(call: ProviderCall, body: Mapping[str, Any]) -> None:
    reason = body.get("stop_reason")
    call.set_response(
        model=body.get("model"), id=body.get("id"), finish_reasons=[reason] if reason else None
    )
    _anthropic_usage(call, body.get("usage"))
    for block in body.get("content") or ():
        if isinstance(block, Mapping) and block.get("type") == "tool_use":
            tool_call_event(
                call, block.get("name"), block.get("id"), "function", block.get("input")
            )
    if call.capture_content:
        parts = anthropic_messages._block_parts(body.get("content"))
        call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output(parts, reason))


def _text_body(call: ProviderCall, body: Mapping[str, Any]) -> None:
    """Llama (``generation``) and Mistral (``outputs`` / ``choices``) bodies."""
    texts: list[Any] = []
    reasons: list[Any] = []
    if "generation" in body:
        texts.append(body.get("generation"))
        reasons.append(body.get("stop_reason"))
        call.set_usage(
            input_tokens=body.get("prompt_token_count"),
            output_tokens=body.get("generation_token_count"),
        )
    for output in body.get("outputs") or ():
        texts.append(P.get(output, "text"))
        reasons.append(P.get(output, "stop_reason"))
    for choice in body.get("choices") or ():
        texts.append(P.get(P.get(choice, "message"), "content"))
        reasons.append(P.get(choice, "stop_reason") or P.get(choice, "finish_reason"))
    call.set_response(finish_reasons=reasons or None)
    if call.capture_content:
        call.add_content(
            A.GEN_AI_OUTPUT_MESSAGES,
            [
                {"role": "assistant", "parts": [P.text(t)], "finish_reason": P.finish_reason(r)}
                for t, r in zip(texts, reasons, strict=True)
            ],
        )


def record_invoke(call: ProviderCall, kind: str | None, body: Any, headers: Mapping) -> None:
    call.set_usage(  # the headers first: a body's own counts, when it has them, overwrite
        input_tokens=as_token_count(_int(headers.get("x-amzn-bedrock-input-token-count"))),
        output_tokens=as_token_count(_int(headers.get("x-amzn-bedrock-output-token-count"))),
    )
    if not isinstance(body, Mapping):
        return
    if kind == "anthropic":
        _anthropic_body(call, body)
    elif kind == "amazon" and "output" in body:
        record_converse(call, body)
    else:
        _text_body(call, body)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _rewrap_body(result: Any) -> Any:
    """Read an InvokeModel ``body`` and put an unread copy back for the application."""
    from botocore.response import StreamingBody

    raw = result["body"].read()
    result["body"] = StreamingBody(io.BytesIO(raw), len(raw))
    return json.loads(raw)


class InvokeStreamObserver:
    """Running state of InvokeModelWithResponseStream: one JSON body per chunk, by family."""

    __slots__ = (
        "calls", "capture", "family", "id", "metrics", "model", "output", "reason", "texts", "usage"
    )  # fmt: skip

    def __init__(self, capture: bool, kind: str | None) -> None:
        self.capture = capture
        self.family = kind
        self.output = False  # a text or tool-input delta has arrived: time to first chunk
        self.id: Any = None
        self.model: Any = None
        self.reason: Any = None
        self.usage: dict[str, Any] = {}
        self.metrics: Any = None
        self.calls: dict[int, list[Any]] = {}
        self.texts: list[str] = []

    def on_chunk(self, event: Any) -> None:
        raw = (event.get("chunk") or {}).get("bytes") if isinstance(event, Mapping) else None
        if not raw:
            return
        body = json.loads(raw)
        if not isinstance(body, Mapping):
            return
        metrics = body.get("amazon-bedrock-invocationMetrics")
        if metrics is not None:
            self.metrics = metrics
        if self.family == "anthropic":
            self._anthropic(body)
        elif self.family == "amazon":
            self._nova(body)
        else:
            self._text(body)

    def _anthropic(self, body: Mapping[str, Any]) -> None:
        kind = body.get("type")
        if kind == "message_start":
            message = body.get("message") or {}
            self.id, self.model = message.get("id"), message.get("model")
            self.usage.update(message.get("usage") or {})
        elif kind == "message_delta":
            self.reason = (body.get("delta") or {}).get("stop_reason") or self.reason
            self.usage.update(body.get("usage") or {})
        elif kind == "content_block_start":
            block = body.get("content_block") or {}
            if block.get("type") == "tool_use":
                self.calls[body.get("index", 0)] = [block.get("id"), block.get("name"), []]
        elif kind == "content_block_delta":
            delta = body.get("delta") or {}
            self.output = self.output or delta.get("type") in ("text_delta", "input_json_delta")
            if not self.capture:
                return
            if delta.get("type") == "text_delta":
                self.texts.append(delta.get("text") or "")
            elif delta.get("type") == "input_json_delta" and body.get("index") in self.calls:
                self.calls[body["index"]][2].append(delta.get("partial_json") or "")

    def _nova(self, body: Mapping[str, Any]) -> None:
        if "contentBlockDelta" in body:
            delta = body["contentBlockDelta"].get("delta") or {}
            self.output = self.output or "text" in delta or "toolUse" in delta
            index = body["contentBlockDelta"].get("contentBlockIndex", 0)
            if self.capture and "text" in delta:
                self.texts.append(delta["text"])
            elif self.capture and "toolUse" in delta and index in self.calls:
                self.calls[index][2].append((delta["toolUse"] or {}).get("input") or "")
        elif "contentBlockStart" in body:
            start = body["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if isinstance(use, Mapping):
                index = start.get("contentBlockIndex", 0)
                self.calls[index] = [use.get("toolUseId"), use.get("name"), []]
        elif "messageStop" in body:
            self.reason = body["messageStop"].get("stopReason")
        elif "metadata" in body:
            self.usage = dict(body["metadata"].get("usage") or {})

    def _text(self, body: Mapping[str, Any]) -> None:
        for output in body.get("outputs") or (body,):
            if P.get(output, "stop_reason"):
                self.reason = P.get(output, "stop_reason")
            text = P.get(output, "generation", P.get(output, "text"))
            self.output = self.output or bool(text)
            if self.capture and isinstance(text, str):
                self.texts.append(text)
        if isinstance(body.get("prompt_token_count"), int):
            self.usage["prompt_token_count"] = body["prompt_token_count"]
        if isinstance(body.get("generation_token_count"), int):
            self.usage["generation_token_count"] = body["generation_token_count"]

    def finish(self, call: ProviderCall) -> None:
        call.set_response(
            model=self.model, id=self.id, finish_reasons=[self.reason] if self.reason else None
        )
        metrics = self.metrics if isinstance(self.metrics, Mapping) else {}
        call.set_usage(
            input_tokens=metrics.get("inputTokenCount"),
            output_tokens=metrics.get("outputTokenCount"),
        )
        if self.family == "anthropic":
            _anthropic_usage(call, self.usage)
        elif self.family == "amazon":
            _converse_usage(call, self.usage)
        elif self.usage:
            call.set_usage(
                input_tokens=self.usage.get("prompt_token_count"),
                output_tokens=self.usage.get("generation_token_count") if not metrics else None,
            )
        for index in sorted(self.calls):
            call_id, name, pieces = self.calls[index]
            args = P.arguments("".join(pieces)) if self.capture else None
            tool_call_event(call, name, call_id, "function", args)
        if self.capture:
            parts = [P.text("".join(self.texts))] if self.texts else []
            parts += [P.tool_call(c[0], c[1], "".join(c[2])) for _, c in sorted(self.calls.items())]
            call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output(parts, self.reason))


# --- dispatch --------------------------------------------------------------------------------


def handle_response(
    call: ProviderCall,
    result: Any,
    stream_proxy: type[StreamProxy] | type[AsyncStreamProxy] = StreamProxy,
    read_body: Callable[[Any], Any] = _rewrap_body,
) -> Any:
    """Record a bedrock-runtime response; streams are proxied (the dict is returned as is).

    ``stream_proxy`` and ``read_body`` (the InvokeModel body as JSON, left readable for the
    application) are botocore's by default; aiobotocore passes its own.
    """
    if not isinstance(result, dict):
        return None
    operation = call._request_attributes.get(A.GEN_AI_REQUEST_STREAM)
    model = call.request_model
    try:
        if "stream" in result and operation:  # ConverseStream
            result["stream"] = stream_proxy(
                result["stream"], call, ConverseStreamObserver(call.capture_content)
            )
            return result
        body = result.get("body")
        if operation and body is not None and not hasattr(body, "read"):
            observer = InvokeStreamObserver(call.capture_content, family(model))
            result["body"] = stream_proxy(body, call, observer)
            return result
    except Exception:
        log_once(f"{_SITE}.stream", "could not observe a stream; its span ends now")
        return None
    try:
        if "output" in result or "stopReason" in result:
            record_converse(call, result)
        elif hasattr(result.get("body"), "read"):
            call.set_response(id=_request_id(result))
            record_invoke(call, family(model), read_body(result), _headers(result))
    except Exception:
        log_once(f"{_SITE}.response", "could not read the response")
    return None
