"""Builders for the official GenAI message shapes, shared by the provider modules.

A message is ``{"role": ..., "parts": [...]}`` (output messages add ``finish_reason``); parts
are ``{"type": "text", "content": ...}``, ``{"type": "tool_call", "id", "name",
"arguments"}``, ``{"type": "tool_call_response", "id", "response"}``,
``{"type": "reasoning", "content": ...}``, or ``{"type": <kind>}`` for anything else
(images, audio, files: recorded by kind only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

# Provider finish / stop reasons -> the official output-message finish_reason values.
FINISH_REASONS = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "length": "length",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    "tool_use": "tool_call",
    "content_filter": "content_filter",
    "refusal": "content_filter",
}


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for mappings, ``obj.key`` for SDK objects."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def arguments(value: Any) -> Any:
    """Tool call arguments as an object when they are JSON text, else as given."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def text(content: str | None) -> dict[str, Any]:
    return {"type": "text", "content": content}


def tool_call(id: Any, name: Any, args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": id, "name": name, "arguments": arguments(args)}


def tool_response(id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": id, "response": response}


def finish_reason(reason: Any) -> str | None:
    return FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else None


def plain_text(content: Any) -> Any:
    """The text of a string or a list of text parts/blocks (other values as given)."""
    if isinstance(content, str) or content is None:
        return content
    if isinstance(content, (list, tuple)):
        texts = [get(part, "text") for part in content]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    return content


def tool_definitions(
    tools: Any, entry: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """``gen_ai.tool.definitions``: ``entry(tool)`` for each of a request's ``tools``."""
    if not isinstance(tools, (list, tuple)) or not tools:
        return None
    return [entry(tool) for tool in tools]


def tool_definition(
    kind: Any, name: Any, source: Any, parameters_key: str = "parameters"
) -> dict[str, Any]:
    """One tool definition: type and name, plus ``description`` and ``parameters`` when
    ``source`` has them (``parameters_key`` names where ``source`` keeps the schema)."""
    entry = {"type": kind, "name": name}
    description = get(source, "description")
    if description is not None:
        entry["description"] = description
    parameters = get(source, parameters_key)
    if parameters is not None:
        entry["parameters"] = parameters
    return entry
