"""The Gemini API dialect (``google-genai`` with ``vertexai=False``).

Routes: ``POST /v1beta/models/{model}:generateContent``, ``:streamGenerateContent`` (SSE
with ``?alt=sse``), ``:embedContent`` and ``:batchEmbedContents`` (the ``v1`` / ``v1alpha``
versions too). The model comes from the path; the response echoes it as ``modelVersion``.

Usage (OpenTelemetry ``Usage`` -> ``usageMetadata``): ``promptTokenCount = input_tokens``
(cached included, as ``cachedContentTokenCount``), ``candidatesTokenCount = output_tokens -
reasoning_tokens`` and ``thoughtsTokenCount = reasoning_tokens``: Gemini reports thinking
beside the candidates. Function calls finish with ``STOP``, as the real API does.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._script import embedding_vector, estimate_tokens
from ._base import Event, Parsed, PathRoute, Turn, WireFormat, register, words

_PREFIX = r"^/(?:v1beta|v1alpha|v1)/models/(?P<model>[^:/]+):"

FINISH_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    """A Google API error: ``{"error": {"code", "message", "status"}}``."""
    name = error_type or _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "UNKNOWN")
    return {"error": {"code": status, "message": message, "status": name}}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _part_text(part: Any) -> tuple[str, str | None]:
    """(text counted for tokens, tool result text or None) of one part."""
    if not isinstance(part, dict):
        return "", None
    if isinstance(part.get("text"), str):
        return part["text"], None
    call = part.get("functionCall")
    if isinstance(call, dict):
        return str(call.get("name") or "") + _compact(call.get("args") or {}), None
    response = part.get("functionResponse")
    if isinstance(response, dict):
        result = response.get("response")
        text = result if isinstance(result, str) else _compact(result)
        return text, text
    return "", None


def parse(body: dict[str, Any]) -> Parsed:
    """Message texts, (user | tool, text) turns and function tools of a request."""
    texts: list[str] = []
    turns: list[tuple[str, str]] = []
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        texts.append("".join(_part_text(p)[0] for p in system.get("parts") or ()))
    for content in body.get("contents") or ():
        if not isinstance(content, dict):
            continue
        said: list[str] = []
        results: list[str] = []
        for part in content.get("parts") or ():
            text, result = _part_text(part)
            said.append(text)
            if result is not None:
                results.append(result)
        texts.append("".join(said))
        if results:
            turns.append(("tool", "\n".join(results)))
        elif content.get("role", "user") == "user":
            turns.append(("user", "".join(said)))
    functions = []
    for tool in body.get("tools") or ():
        for fn in (tool.get("functionDeclarations") if isinstance(tool, dict) else None) or ():
            if isinstance(fn, dict) and fn.get("name"):
                schema = (
                    fn.get("parameters")
                    or fn.get("parametersJsonSchema")
                    or fn.get("parameters_json_schema")  # as some SDK versions send it
                    or {}
                )
                functions.append((fn["name"], _lower_types(schema)))
    return texts, turns, functions


def _lower_types(schema: Any) -> Any:
    """Gemini ``Schema`` types are upper-case (``OBJECT``); JSON schema's are lower-case."""
    if isinstance(schema, dict):
        out = {k: _lower_types(v) for k, v in schema.items()}
        if isinstance(out.get("type"), str):
            out["type"] = out["type"].lower()
        return out
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def tool_choice(body: dict[str, Any]) -> Any:
    """``toolConfig.functionCallingConfig`` in the chat ``tool_choice`` vocabulary."""
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") == "NONE":
        return "none"
    allowed = config.get("allowedFunctionNames") or ()
    return {"name": allowed[0]} if allowed else None


def usage_metadata(usage: Any, final: bool = True) -> dict[str, Any]:
    """``usageMetadata`` for a scripted :class:`Usage` (non-final stream chunks: prompt only)."""
    out: dict[str, Any] = {"promptTokenCount": usage.input_tokens}
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    if not final:
        out["totalTokenCount"] = usage.input_tokens
        return out
    out["candidatesTokenCount"] = usage.output_tokens - usage.reasoning_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    out["totalTokenCount"] = usage.total_tokens
    return out


def _parts(turn: Turn) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if turn.thinking is not None:
        parts.append({"text": turn.thinking, "thought": True})
    if turn.text or not turn.calls:
        parts.append({"text": turn.text or ""})
    for call in turn.calls:
        fc: dict[str, Any] = {"name": call.name, "args": call.arguments_dict()}
        if call.id:
            fc["id"] = call.id
        parts.append({"functionCall": fc})
    return parts


def _response(turn: Turn, parts: list[Any], finish: str | None, usage: dict) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": turn.model,
        "responseId": f"gemini-{turn.seq}",
    }


def render(turn: Turn) -> dict[str, Any]:
    """A non-streamed ``GenerateContentResponse``."""
    return _response(turn, _parts(turn), turn.finish_reason, usage_metadata(turn.usage))


def render_stream(turn: Turn) -> list[Event]:
    """The SSE data events of ``streamGenerateContent?alt=sse``: one partial response each."""
    pieces: list[dict[str, Any]] = []
    if turn.thinking is not None:
        pieces.extend({"text": w, "thought": True} for w in words(turn.thinking))
    pieces.extend({"text": w} for w in words(turn.text or ""))
    pieces.extend(p for p in _parts(turn) if "functionCall" in p)
    if not pieces:
        pieces.append({"text": ""})
    partial = usage_metadata(turn.usage, final=False)
    events: list[Event] = [(None, _response(turn, [piece], None, partial)) for piece in pieces[:-1]]
    final = _response(turn, [pieces[-1]], turn.finish_reason, usage_metadata(turn.usage))
    events.append((None, final))
    return events


def embed(action: str, body: dict[str, Any]) -> dict[str, Any]:
    """``embedContent`` / ``batchEmbedContents``: unit vectors and ``usageMetadata``
    (``promptTokenCount`` = ``ceil(len(text) / 4)`` per input)."""
    requests = body.get("requests") if action == "batchEmbedContents" else [body]
    embeddings = []
    total = 0
    for request in requests if isinstance(requests, list) else ():
        content = request.get("content") if isinstance(request, dict) else None
        text = "".join(_part_text(p)[0] for p in (content or {}).get("parts") or ())
        dims = request.get("outputDimensionality")
        values = embedding_vector(text, dims if isinstance(dims, int) and dims > 0 else 8)
        embeddings.append({"values": values})
        total += estimate_tokens(text)
    usage = {"promptTokenCount": total}
    if action == "embedContent":
        return {
            "embedding": embeddings[0] if embeddings else {"values": []},
            "usageMetadata": usage,
        }
    return {"embeddings": embeddings, "usageMetadata": usage}


register(
    WireFormat(
        api="gemini",
        routes=(),
        parse=parse,
        render=render,
        render_stream=render_stream,
        error_body=error_body,
        finish_reasons=FINISH_REASONS,
        paths=(
            PathRoute(re.compile(_PREFIX + r"generateContent$"), "generate"),
            PathRoute(re.compile(_PREFIX + r"streamGenerateContent$"), "stream"),
            PathRoute(
                re.compile(_PREFIX + r"(?P<action>embedContent|batchEmbedContents)$"), "embed"
            ),
        ),
        embed=embed,
        tool_choice=tool_choice,
    )
)
