"""Mistral's chat and embeddings API (the ``mistralai`` SDK), under the ``/mistral`` prefix.

Streamed tool calls come whole, one delta each, as Mistral sends them.

Routes: ``POST /mistral/v1/chat/completions`` (``"stream": true`` for SSE) and
``/mistral/v1/embeddings``; point the SDK at ``ScriptedLLMServer.mistral_base_url``. The
answers follow Mistral's shapes: chat completions without OpenAI's service tier, refusal or
fingerprint fields; every stream ends with the usage in its last chunk, as Mistral always
sends it; embeddings take ``inputs`` (``input`` too); errors are
``{"object": "error", "message", "type", "code"}``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .._script import embedding_vector, estimate_embedding_tokens
from ._base import Event, PathRoute, Turn, WireFormat, register
from .openai_chat import FINISH_TO_OPENAI, chat_chunks, chat_completion, parse_chat

_OPENAI_ONLY = ("service_tier", "system_fingerprint")


def error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    kind = error_type or ("api_error" if status >= 500 else "invalid_request_error")
    return {"object": "error", "message": message, "type": kind, "param": None, "code": str(status)}


def _mistral(payload: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in payload.items() if k not in _OPENAI_ONLY}
    for choice in out.get("choices") or ():
        message = choice.get("message")
        if isinstance(message, dict):
            choice["message"] = {
                k: v for k, v in message.items() if k not in ("refusal", "annotations")
            }
        choice.pop("logprobs", None)
    return out


def render(turn: Turn) -> dict[str, Any]:
    """A non-streamed Mistral chat completion."""
    return _mistral(chat_completion(turn))


def render_stream(turn: Turn) -> list[Event]:
    """Mistral chat chunks: usage rides on the last chunk (no empty-choices usage chunk)."""
    events = chat_chunks(replace(turn, body={**turn.body, "stream_options": None}))
    done = events.pop()  # "[DONE]"
    chunks = [(name, _mistral(data)) for name, data in events if _whole_calls(turn, data)]
    chunks[-1][1]["usage"] = turn.usage.to_chat_usage()
    return [*chunks, done]


def _whole_calls(turn: Turn, data: dict[str, Any]) -> bool:
    """Mistral sends each tool call whole: keep a call's first delta, with all its arguments,
    and drop the argument pieces after it."""
    for choice in data.get("choices") or ():
        for call in (choice.get("delta") or {}).get("tool_calls") or ():
            function = call.get("function") or {}
            if "name" not in function:
                return False
            function["arguments"] = turn.calls[call["index"]].arguments_json()
    return True


def embed(action: str, body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("inputs", body.get("input"))
    items = [inputs] if isinstance(inputs, str) else list(inputs or [])
    tokens = estimate_embedding_tokens(items)
    return {
        "id": "embd-scripted",
        "object": "list",
        "model": body.get("model"),
        "data": [
            {"object": "embedding", "index": i, "embedding": embedding_vector(item, 8)}
            for i, item in enumerate(items)
        ],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens},
    }


register(
    WireFormat(
        api="mistral",
        routes=(),
        parse=parse_chat,
        render=render,
        render_stream=render_stream,
        error_body=error_body,
        finish_reasons=FINISH_TO_OPENAI,
        paths=(
            PathRoute(re.compile(r"^/mistral/v1/chat/completions$"), "auto"),
            PathRoute(re.compile(r"^/mistral/v1/embeddings$"), "embed"),
        ),
        embed=embed,
    )
)
