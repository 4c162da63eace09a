"""OpenAI Chat Completions: ``POST /v1/chat/completions``, plain and streamed."""

from __future__ import annotations

from typing import Any

from .._script import _call_text, _dicts, _text_of
from ._base import (
    SYSTEM_FINGERPRINT,
    Event,
    Parsed,
    Turn,
    WireFormat,
    call_id,
    pieces,
    register,
    words,
)

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

FINISH_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
}


def openai_error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    """An OpenAI-style error body (also used for routes no format claims)."""
    kind = error_type or OPENAI_ERROR_TYPES.get(
        status, "server_error" if status >= 500 else "invalid_request_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def parse_chat(body: dict[str, Any]) -> Parsed:
    """Read the messages, tool results and function tools of a chat request."""
    texts: list[str] = []
    turns: list[tuple[str, str]] = []
    for msg in _dicts(body.get("messages")):
        role = msg.get("role")
        text = _text_of(msg.get("content"))
        calls = "".join(
            _call_text(
                (c.get("function") or {}).get("name"), (c.get("function") or {}).get("arguments")
            )
            for c in _dicts(msg.get("tool_calls"))
        )
        texts.append(text + calls)
        if role in ("tool", "function"):
            turns.append(("tool", text))
        elif role == "user":
            turns.append(("user", text))
    functions: list[Any] = []
    for tool in _dicts(body.get("tools")):
        fn = tool.get("function")
        if tool.get("type", "function") == "function" and isinstance(fn, dict) and fn.get("name"):
            functions.append((fn["name"], fn.get("parameters") or {}))
    return texts, turns, functions


def _chat_message(turn: Turn) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": turn.text if turn.text is not None or turn.calls else "",
        "refusal": None,
        "annotations": [],
    }
    if turn.calls:
        message["tool_calls"] = [
            {
                "id": call_id("call_", turn.seq, i, call),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for i, call in enumerate(turn.calls)
        ]
    return message


def chat_completion(turn: Turn) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    return {
        "id": f"chatcmpl-{turn.seq}",
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.model,
        "choices": [
            {
                "index": i,
                "message": _chat_message(turn),
                "logprobs": None,
                "finish_reason": turn.finish_reason,
            }
            for i in range(turn.choices)
        ],
        "usage": turn.usage.to_chat_usage(),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def chat_chunks(turn: Turn) -> list[Event]:
    """The SSE events of a streamed chat completion."""
    options = turn.body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True

    def chunk(choices: list[dict[str, Any]]) -> Event:
        data: dict[str, Any] = {
            "id": f"chatcmpl-{turn.seq}",
            "object": "chat.completion.chunk",
            "created": turn.created,
            "model": turn.model,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": choices,
        }
        if include_usage:
            data["usage"] = None
        return None, data

    def choice(index: int, delta: dict[str, Any], finish: str | None = None) -> Event:
        return chunk([{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])

    events: list[Event] = []
    for i in range(turn.choices):
        first = {"role": "assistant", "content": "" if turn.text is not None else None}
        events.append(choice(i, {**first, "refusal": None}))
        events.extend(choice(i, {"content": word}) for word in words(turn.text or ""))
        for j, call in enumerate(turn.calls):
            head = {
                "index": j,
                "id": call_id("call_", turn.seq, j, call),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(choice(i, {"tool_calls": [head]}))
            events.extend(
                choice(i, {"tool_calls": [{"index": j, "function": {"arguments": piece}}]})
                for piece in pieces(call.arguments_json())
            )
        events.append(choice(i, {}, turn.finish_reason))
    if include_usage:
        name, data = chunk([])
        data["usage"] = turn.usage.to_chat_usage()
        events.append((name, data))
    events.append((None, "[DONE]"))
    return events


register(
    WireFormat(
        api="chat",
        routes=("/chat/completions",),
        parse=parse_chat,
        render=chat_completion,
        render_stream=chat_chunks,
        error_body=openai_error_body,
        finish_reasons=FINISH_TO_OPENAI,
    )
)
