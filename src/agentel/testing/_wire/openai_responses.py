"""OpenAI Responses API: ``POST /v1/responses``, plain and streamed."""

from __future__ import annotations

from typing import Any

from .._script import _call_text, _dicts, _text_of
from ._base import Event, Parsed, Turn, WireFormat, call_id, pieces, register, words
from .openai_chat import FINISH_TO_OPENAI, openai_error_body


def parse_responses(body: dict[str, Any]) -> Parsed:
    """Read the instructions, input items and function tools of a Responses request."""
    texts: list[str] = []
    turns: list[tuple[str, str]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        texts.append(instructions)
    items = body.get("input")
    if isinstance(items, str):
        texts.append(items)
        turns.append(("user", items))
    for item in _dicts(items):
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call"):
            texts.append(_call_text(item.get("name"), item.get("arguments", item.get("input"))))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            text = _text_of(item.get("output"))
            texts.append(text)
            turns.append(("tool", text))
        elif "role" in item:
            text = _text_of(item.get("content"))
            texts.append(text)
            if item.get("role") == "user":
                turns.append(("user", text))
        else:
            texts.append(_text_of(item.get("content") or item.get("summary")))
    functions = [
        (tool["name"], tool.get("parameters") or {})
        for tool in _dicts(body.get("tools"))
        if tool.get("type") == "function" and tool.get("name")
    ]
    return texts, turns, functions


def _responses_items(turn: Turn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if turn.thinking is not None:
        items.append(
            {
                "type": "reasoning",
                "id": f"rs_{turn.seq}_0",
                "summary": [{"type": "summary_text", "text": turn.thinking}],
                "status": "completed",
            }
        )
    if turn.text is not None or not turn.calls:
        items.append(
            {
                "type": "message",
                "id": f"msg_{turn.seq}_0",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {
                        "type": "output_text",
                        "text": turn.text or "",
                        "annotations": [],
                        "logprobs": [],
                    }
                ],
            }
        )
    for j, call in enumerate(turn.calls):
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{turn.seq}_{j}",
                "call_id": call_id("call_", turn.seq, j, call),
                "name": call.name,
                "arguments": call.arguments_json(),
                "status": "completed",
            }
        )
    return items


def _response_object(turn: Turn, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
    body = turn.body
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    return {
        "id": f"resp_{turn.seq}",
        "object": "response",
        "created_at": turn.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": turn.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
    }


def _responses_status(turn: Turn) -> str:
    return "incomplete" if turn.finish_reason == "length" else "completed"


def response_object(turn: Turn) -> dict[str, Any]:
    """A non-streamed Responses API ``response`` object."""
    return _response_object(
        turn, _responses_status(turn), _responses_items(turn), turn.usage.to_responses_usage()
    )


def response_events(turn: Turn) -> list[Event]:
    """The SSE events of a streamed Responses API call."""
    events: list[Event] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **data}))

    emit("response.created", response=_response_object(turn, "in_progress", [], None))
    emit("response.in_progress", response=_response_object(turn, "in_progress", [], None))
    items = _responses_items(turn)
    for index, item in enumerate(items):
        where: dict[str, Any] = {"output_index": index}
        if item["type"] == "message":
            part = item["content"][0]
            text = part["text"]
            at = {"item_id": item["id"], **where, "content_index": 0}
            emit(
                "response.output_item.added",
                item={**item, "status": "in_progress", "content": []},
                **where,
            )
            emit("response.content_part.added", **at, part={**part, "text": ""})
            for word in words(text):
                emit("response.output_text.delta", **at, delta=word, logprobs=[])
            emit("response.output_text.done", **at, text=text, logprobs=[])
            emit("response.content_part.done", **at, part=part)
        elif item["type"] == "function_call":
            at = {"item_id": item["id"], **where}
            emit(
                "response.output_item.added",
                item={**item, "arguments": "", "status": "in_progress"},
                **where,
            )
            for piece in pieces(item["arguments"]):
                emit("response.function_call_arguments.delta", **at, delta=piece)
            emit(
                "response.function_call_arguments.done",
                **at,
                name=item["name"],
                arguments=item["arguments"],
            )
        else:
            emit("response.output_item.added", item={**item, "status": "in_progress"}, **where)
        emit("response.output_item.done", item=item, **where)
    status = _responses_status(turn)
    final = _response_object(turn, status, items, turn.usage.to_responses_usage())
    emit("response.completed" if status == "completed" else "response.incomplete", response=final)
    return events


register(
    WireFormat(
        api="responses",
        routes=("/responses",),
        parse=parse_responses,
        render=response_object,
        render_stream=response_events,
        error_body=openai_error_body,
        finish_reasons=FINISH_TO_OPENAI,
    )
)
