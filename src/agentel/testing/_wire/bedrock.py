"""The Amazon Bedrock runtime dialects: Converse and InvokeModel (botocore ``bedrock-runtime``).

Routes (the model id, URL-encoded, is in the path):

- ``POST /model/{id}/converse`` and ``/converse-stream``: the Converse API;
- ``POST /model/{id}/invoke`` and ``/invoke-with-response-stream``: the model's own body,
  read and written by family from the id (regional prefixes such as ``us.`` allowed):
  ``anthropic.*`` (Anthropic Messages), ``amazon.nova*`` (Nova messages-v1), ``meta.llama*``
  (``prompt`` / ``generation``) and ``mistral.*`` (``prompt`` / ``outputs``).

Streams use the binary AWS event-stream framing (``application/vnd.amazon.eventstream``):
each message is a prelude (total and header lengths, CRC32), string headers
(``:event-type``, ``:content-type``, ``:message-type``), a JSON payload and a CRC32 of the
whole message. InvokeModel stream chunks carry the model's JSON base64-encoded in
``{"bytes": ...}``; the last one adds ``amazon-bedrock-invocationMetrics``. Non-streamed
InvokeModel answers send the token counts in ``x-amzn-bedrock-input-token-count`` /
``-output-token-count`` headers, as Bedrock does.

Usage: Converse and Nova report ``inputTokens`` without the cache (``cacheReadInputTokens``
/ ``cacheWriteInputTokens`` beside it); Anthropic bodies as on Anthropic's API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import replace
from typing import Any

from .._script import _call_text, _dicts, _text_of
from ._base import Event, Parsed, PathRoute, Turn, WireFormat, call_id, pieces, register, words
from .anthropic import FINISH_TO_ANTHROPIC, anthropic_events, anthropic_message, parse_anthropic

_MODEL = r"^/model/(?P<model>[^/]+)/"
_FAMILY = re.compile(r"^(?:[a-z-]+\.)?(anthropic|amazon|meta|mistral)\.")

FINISH_TO_CONVERSE = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
}
_FINISH_TO_TEXT = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}

_ERRORS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _error_type(status: int, error_type: str | None) -> str:
    return error_type or _ERRORS.get(status, "InternalServerException")


def error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    """A Bedrock error body: ``{"message": ...}`` (the type travels in a header)."""
    return {"message": message, "__type": _error_type(status, error_type)}


def error_headers(status: int, error_type: str | None) -> dict[str, str]:
    return {"x-amzn-ErrorType": f"{_error_type(status, error_type)}:http://internal.amazon.com/"}


# --- event-stream framing ------------------------------------------------------------------------


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def event_frame(event: Event) -> bytes:
    """One AWS event-stream message for ``(event type, JSON payload)``."""
    name, data = event
    headers = (
        _header(":event-type", str(name))
        + _header(":content-type", "application/json")
        + _header(":message-type", "event")
    )
    payload = json.dumps(data, separators=(",", ":")).encode()
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


# --- Converse ------------------------------------------------------------------------------------


def _block_text(block: dict[str, Any]) -> tuple[str, str | None]:
    """(text counted for tokens, tool result text or None) of one content block."""
    if isinstance(block.get("text"), str):
        return block["text"], None
    use = block.get("toolUse")
    if isinstance(use, dict):
        return _call_text(use.get("name"), use.get("input")), None
    result = block.get("toolResult")
    if isinstance(result, dict):
        parts = []
        for item in _dicts(result.get("content")):
            value = item.get("text") if "text" in item else item.get("json")
            parts.append(value if isinstance(value, str) else json.dumps(value))
        text = "".join(parts)
        return text, text
    return "", None


def parse_converse(body: dict[str, Any]) -> Parsed:
    """Read the system prompt, message blocks and tool specs of a Converse / Nova request."""
    texts: list[str] = []
    turns: list[tuple[str, str]] = []
    system = body.get("system")
    if isinstance(system, list) and system:
        texts.append("".join(_text_of(block) for block in _dicts(system)))
    for message in _dicts(body.get("messages")):
        said: list[str] = []
        results: list[str] = []
        for block in _dicts(message.get("content")):
            text, result = _block_text(block)
            said.append(text)
            if result is not None:
                results.append(result)
        texts.append("".join(said))
        if results:
            turns.append(("tool", "\n".join(results)))
        elif message.get("role") == "user":
            turns.append(("user", "".join(said)))
    functions = []
    for tool in converse_tools(body):
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict) and spec.get("name"):
            functions.append((spec["name"], (spec.get("inputSchema") or {}).get("json") or {}))
    return texts, turns, functions


def converse_tools(body: dict[str, Any]) -> list[Any]:
    tools = (body.get("toolConfig") or {}).get("tools")
    return tools if isinstance(tools, list) else []


def converse_tool_choice(body: dict[str, Any]) -> Any:
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    tool = choice.get("tool") if isinstance(choice, dict) else None
    return {"name": tool.get("name")} if isinstance(tool, dict) else None


def _usage(turn: Turn) -> dict[str, int]:
    usage = turn.usage
    uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
    out = {
        "inputTokens": uncached,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        out["cacheReadInputTokens"] = usage.cached_tokens
    if usage.cache_write_tokens:
        out["cacheWriteInputTokens"] = usage.cache_write_tokens
    return out


def _content(turn: Turn) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.thinking is not None:
        blocks.append({"reasoningContent": {"reasoningText": {"text": turn.thinking}}})
    if turn.text or not turn.calls:
        blocks.append({"text": turn.text or ""})
    for j, call in enumerate(turn.calls):
        use = {
            "toolUseId": call_id("tooluse_", turn.seq, j, call),
            "name": call.name,
            "input": call.arguments_dict(),
        }
        blocks.append({"toolUse": use})
    return blocks


def converse_response(turn: Turn) -> dict[str, Any]:
    """A Converse response."""
    return {
        "output": {"message": {"role": "assistant", "content": _content(turn)}},
        "stopReason": turn.finish_reason,
        "usage": _usage(turn),
        "metrics": {"latencyMs": 10},
    }


def converse_events(turn: Turn) -> list[Event]:
    """The ConverseStream events: messageStart, content blocks, messageStop, metadata."""
    events: list[Event] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(_content(turn)):
        if "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            deltas = [{"toolUse": {"input": p}} for p in pieces(json.dumps(use["input"]))]
        elif "reasoningContent" in block:
            text = block["reasoningContent"]["reasoningText"]["text"]
            deltas = [{"reasoningContent": {"text": w}} for w in words(text)]
        else:
            deltas = [{"text": w} for w in words(block["text"])] or [{"text": ""}]
        events.extend(
            ("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}) for delta in deltas
        )
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": turn.finish_reason}))
    events.append(("metadata", {"usage": _usage(turn), "metrics": {"latencyMs": 10}}))
    return events


register(
    WireFormat(
        api="bedrock_converse",
        routes=(),
        parse=parse_converse,
        render=converse_response,
        render_stream=converse_events,
        error_body=error_body,
        finish_reasons=FINISH_TO_CONVERSE,
        paths=(
            PathRoute(re.compile(_MODEL + r"converse$"), "generate"),
            PathRoute(re.compile(_MODEL + r"converse-stream$"), "stream"),
        ),
        tools=converse_tools,
        tool_choice=converse_tool_choice,
        stream_frame=event_frame,
        stream_content_type="application/vnd.amazon.eventstream",
        error_headers=error_headers,
    )
)


# --- InvokeModel ---------------------------------------------------------------------------------


def family(model: Any) -> str:
    """``anthropic``, ``amazon``, ``meta`` or ``mistral`` from a model id (else ``meta``:
    the plain prompt / generation body)."""
    found = _FAMILY.match(model) if isinstance(model, str) else None
    return found.group(1) if found else "meta"


def _parse_prompt(body: dict[str, Any]) -> Parsed:
    prompt = body.get("prompt")
    text = prompt if isinstance(prompt, str) else ""
    return [text], [("user", text)], []


def parse_invoke(body: dict[str, Any]) -> Parsed:
    kind = family(body.get("model"))
    if kind == "anthropic":
        return parse_anthropic(body)
    if kind == "amazon":
        return parse_converse(body)
    return _parse_prompt(body)


def invoke_tools(body: dict[str, Any]) -> list[Any]:
    if family(body.get("model")) == "amazon":
        return converse_tools(body)
    tools = body.get("tools")
    return tools if isinstance(tools, list) else []


def _as(turn: Turn, table: dict[str, str]) -> Turn:
    return replace(turn, finish_reason=table.get(turn.finish_reason, turn.finish_reason))


def invoke_response(turn: Turn) -> dict[str, Any]:
    """The model's own response body for InvokeModel."""
    kind = family(turn.model)
    if kind == "anthropic":
        return anthropic_message(_as(turn, FINISH_TO_ANTHROPIC))
    if kind == "amazon":
        nova = _as(turn, FINISH_TO_CONVERSE)
        usage = {
            key.replace("InputTokens", "InputTokenCount") if key.startswith("cache") else key: v
            for key, v in _usage(nova).items()
        }
        return {
            "output": {"message": {"role": "assistant", "content": _content(nova)}},
            "stopReason": nova.finish_reason,
            "usage": usage,
        }
    reason = _FINISH_TO_TEXT.get(turn.finish_reason, turn.finish_reason)
    if kind == "mistral":
        return {"outputs": [{"text": turn.text or "", "stop_reason": reason}]}
    return {
        "generation": turn.text or "",
        "prompt_token_count": turn.usage.input_tokens,
        "generation_token_count": turn.usage.output_tokens,
        "stop_reason": reason,
    }


def _chunk(data: dict[str, Any]) -> Event:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return "chunk", {"bytes": base64.b64encode(raw).decode()}


def invoke_events(turn: Turn) -> list[Event]:
    """InvokeModelWithResponseStream chunks; the last carries the invocation metrics."""
    kind = family(turn.model)
    if kind == "anthropic":
        bodies = [data for _, data in anthropic_events(_as(turn, FINISH_TO_ANTHROPIC))]
    elif kind == "amazon":
        bodies = [{name: data} for name, data in converse_events(_as(turn, FINISH_TO_CONVERSE))]
        for body in bodies:
            usage = body.get("metadata", {}).get("usage")
            if usage:
                body["metadata"]["usage"] = {
                    key.replace("InputTokens", "InputTokenCount")
                    if key.startswith("cache")
                    else key: v
                    for key, v in usage.items()
                }
    else:
        reason = _FINISH_TO_TEXT.get(turn.finish_reason, turn.finish_reason)
        texts = words(turn.text or "") or [""]
        bodies = []
        for i, text in enumerate(texts):
            last = i == len(texts) - 1
            if kind == "mistral":
                bodies.append(
                    {"outputs": [{"text": text, "stop_reason": reason if last else None}]}
                )
            else:
                bodies.append(
                    {
                        "generation": text,
                        "prompt_token_count": turn.usage.input_tokens if i == 0 else None,
                        "generation_token_count": i + 1,
                        "stop_reason": reason if last else None,
                    }
                )
    bodies[-1] = {
        **bodies[-1],
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": turn.usage.input_tokens,
            "outputTokenCount": turn.usage.output_tokens,
            "invocationLatency": 10,
            "firstByteLatency": 5,
        },
    }
    return [_chunk(body) for body in bodies]


def invoke_headers(turn: Turn) -> dict[str, str]:
    return {
        "x-amzn-bedrock-input-token-count": str(turn.usage.input_tokens),
        "x-amzn-bedrock-output-token-count": str(turn.usage.output_tokens),
        "x-amzn-bedrock-invocation-latency": "10",
    }


register(
    WireFormat(
        api="bedrock_invoke",
        routes=(),
        parse=parse_invoke,
        render=invoke_response,
        render_stream=invoke_events,
        error_body=error_body,
        finish_reasons={},
        paths=(
            PathRoute(re.compile(_MODEL + r"invoke$"), "generate"),
            PathRoute(re.compile(_MODEL + r"invoke-with-response-stream$"), "stream"),
        ),
        tools=invoke_tools,
        stream_frame=event_frame,
        stream_content_type="application/vnd.amazon.eventstream",
        error_headers=error_headers,
        response_headers=invoke_headers,
    )
)
