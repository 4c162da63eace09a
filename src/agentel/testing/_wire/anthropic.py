"""Anthropic Messages: ``POST /v1/messages`` (plain and streamed) and ``/v1/messages/count_tokens``."""

from __future__ import annotations

from typing import Any

from .._script import _call_text, _dicts, _text_of, estimate_input_tokens
from ._base import Event, Parsed, Turn, WireFormat, call_id, pieces, register, signature, words

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}

FINISH_TO_ANTHROPIC = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


def anthropic_error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    """An Anthropic-style error body."""
    kind = error_type or ANTHROPIC_ERROR_TYPES.get(
        status, "api_error" if status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}


def parse_anthropic(body: dict[str, Any]) -> Parsed:
    """Read the system prompt, message blocks and custom tools of a Messages request."""
    texts: list[str] = []
    turns: list[tuple[str, str]] = []
    system = body.get("system")
    if system:
        texts.append(_text_of(system))
    for msg in _dicts(body.get("messages")):
        role = msg.get("role")
        content = msg.get("content")
        if isinstance(content, str):
            texts.append(content)
            if role == "user":
                turns.append(("user", content))
            continue
        parts: list[str] = []
        said: list[str] = []
        results: list[str] = []
        for block in _dicts(content):
            kind = block.get("type")
            if kind == "text":
                parts.append(_text_of(block))
                said.append(_text_of(block))
            elif kind in ("tool_use", "server_tool_use"):
                parts.append(_call_text(block.get("name"), block.get("input")))
            elif kind == "tool_result":
                result = _text_of(block.get("content"))
                parts.append(result)
                results.append(result)
            elif kind == "thinking":
                parts.append(str(block.get("thinking") or ""))
        texts.append("".join(parts))
        if results:
            turns.append(("tool", "\n".join(results)))
        elif role == "user":
            turns.append(("user", "".join(said)))
    functions = [
        (tool["name"], tool.get("input_schema") or {})
        for tool in _dicts(body.get("tools"))
        if tool.get("name") and "input_schema" in tool and tool.get("type", "custom") == "custom"
    ]
    return texts, turns, functions


def _anthropic_blocks(turn: Turn) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.thinking is not None:
        blocks.append(
            {"type": "thinking", "thinking": turn.thinking, "signature": signature(turn.thinking)}
        )
    if turn.text is not None or not turn.calls:
        blocks.append({"type": "text", "text": turn.text or ""})
    for j, call in enumerate(turn.calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": call_id("toolu_", turn.seq, j, call),
                "name": call.name,
                "input": call.arguments_dict(),
            }
        )
    return blocks


def _anthropic_message(turn: Turn, content: list[Any], stop: str | None, usage: Any) -> dict:
    return {
        "id": f"msg_{turn.seq:024d}",
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def anthropic_message(turn: Turn) -> dict[str, Any]:
    """A non-streamed Anthropic ``message`` object."""
    return _anthropic_message(
        turn, _anthropic_blocks(turn), turn.finish_reason, turn.usage.to_anthropic_usage()
    )


def anthropic_events(turn: Turn) -> list[Event]:
    """The SSE events of a streamed Anthropic message."""
    events: list[Event] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, **data}))

    usage = turn.usage.to_anthropic_usage()
    emit(
        "message_start",
        message=_anthropic_message(turn, [], None, {**usage, "output_tokens": 1}),
    )
    emit("ping")
    for index, block in enumerate(_anthropic_blocks(turn)):
        kind = block["type"]
        if kind == "thinking":
            emit(
                "content_block_start",
                index=index,
                content_block={"type": "thinking", "thinking": "", "signature": ""},
            )
            for word in words(block["thinking"]):
                emit(
                    "content_block_delta",
                    index=index,
                    delta={"type": "thinking_delta", "thinking": word},
                )
            emit(
                "content_block_delta",
                index=index,
                delta={"type": "signature_delta", "signature": block["signature"]},
            )
        elif kind == "text":
            emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
            for word in words(block["text"]):
                emit("content_block_delta", index=index, delta={"type": "text_delta", "text": word})
        else:
            call = turn.calls[index - _non_tool_blocks(turn)]
            emit("content_block_start", index=index, content_block={**block, "input": {}})
            for piece in pieces(call.arguments_json()):
                emit(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": piece},
                )
        emit("content_block_stop", index=index)
    delta_usage = {
        key: usage[key]
        for key in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
            "output_tokens_details",
        )
        if key in usage
    }
    emit(
        "message_delta",
        delta={"stop_reason": turn.finish_reason, "stop_sequence": None},
        usage=delta_usage,
    )
    emit("message_stop")
    return events


def _non_tool_blocks(turn: Turn) -> int:
    return int(turn.thinking is not None) + int(turn.text is not None or not turn.calls)


def count_tokens(body: dict[str, Any]) -> dict[str, Any]:
    """The ``count_tokens`` answer: the estimated input tokens of the request."""
    return {"input_tokens": estimate_input_tokens("anthropic", body)}


register(
    WireFormat(
        api="anthropic",
        routes=("/messages",),
        parse=parse_anthropic,
        render=anthropic_message,
        render_stream=anthropic_events,
        error_body=anthropic_error_body,
        finish_reasons=FINISH_TO_ANTHROPIC,
        extra_routes={"/messages/count_tokens": count_tokens},
        marker_header="anthropic-version",
    )
)
