"""The replay timeline: a run's spans and events as ordered, typed entries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.normalize import USAGE_CATEGORIES
from agentel.store.errors import QueryError
from agentel.store.query.filters import span_order
from agentel.store.records import TOKEN_FIELDS, SpanRecord, is_root_of, iso_time
from agentel.store.rollup import same_call_spans

REPLAY_TYPES = (
    "run_started",
    "user_message",
    "llm_request",
    "llm_response",
    "tool_called",
    "tool_result",
    "plan",
    "state_updated",
    "error",
    "custom",
    "run_finished",
)
# at equal times: a run starts first and finishes last; requests before events before results
_RANK = {
    "run_started": 0,
    "user_message": 1,
    "llm_request": 2,
    "tool_called": 2,
    "plan": 3,
    "state_updated": 3,
    "custom": 3,
    "error": 4,
    "llm_response": 5,
    "tool_result": 5,
    "run_finished": 9,
}
_KNOWN_EVENTS = {A.EVENT_PLAN: "plan", A.EVENT_STATE_UPDATE: "state_updated"}
_NOT_ENTRIES = {A.EVENT_TOOL_CALL, A.EVENT_INFERENCE_DETAILS, A.EVENT_EXCEPTION}


def check_replay_types(types: Iterable[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    chosen = frozenset(types)
    unknown = sorted(chosen - set(REPLAY_TYPES))
    if unknown:
        raise QueryError(
            f"unknown replay type(s) {', '.join(map(repr, unknown))}; "
            f"types: {', '.join(REPLAY_TYPES)}"
        )
    return chosen


def _content(span: SpanRecord, key: str) -> Any:
    """A captured content attribute, from the span or its inference-details event."""
    value = span.attributes.get(key)
    if value is None:
        for event in span.events:
            if event.get("name") == A.EVENT_INFERENCE_DETAILS:
                value = (event.get("attributes") or {}).get(key)
                if value is not None:
                    break
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def message_text(message: Any) -> str | None:
    """The text parts of one parts-based (or ``content``-style) message, joined."""
    if isinstance(message, str):
        return message
    if not isinstance(message, Mapping):
        return None
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [
            p.get("content")
            for p in parts
            if isinstance(p, Mapping)
            and p.get("type") == "text"
            and isinstance(p.get("content"), str)
        ]
        return "\n".join(texts) if texts else None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _messages(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


class _Timeline:
    def __init__(self) -> None:
        self.entries: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def add(self, kind: str, ns: int, span: SpanRecord, order: int, data: dict[str, Any]) -> None:
        key = (ns, _RANK[kind], order, len(self.entries))
        entry = {"type": kind, "time": iso_time(ns), "span_id": span.span_id, "data": data}
        self.entries.append((key, entry))


def build_replay(
    run: Mapping[str, Any], spans: list[SpanRecord]
) -> list[tuple[int, dict[str, Any]]]:
    """The full timeline of one run as (time in ns, entry), in replay order.

    Entries: ``run_started`` / ``run_finished`` at the run's top span; ``user_message`` for
    each user message the captured input shows for the first time; ``llm_request`` /
    ``llm_response`` at the start / end of each model call (tokens, cost, TTFT), at its
    counted span (an SDK's or instrumentation's span nested in it is the same call);
    ``tool_called`` / ``tool_result`` at the start / end of each tool span; ``plan``,
    ``state_updated`` and ``custom`` from agentel events; ``error`` from exception events,
    or at the end of a failed span that recorded none. Ties in time break by entry kind
    (requests before results), then span start order, then span id.
    """
    ordered = sorted(spans, key=span_order)
    repeated = same_call_spans(ordered)
    exchanged = _tool_exchanges(s for s in ordered if s.category in USAGE_CATEGORIES)
    timeline = _Timeline()
    top = next((s for s in ordered if is_root_of(s, run["run_id"])), None)
    head = top or (ordered[0] if ordered else None)
    seen_user: Counter[str] = Counter()
    for order, span in enumerate(ordered):
        if span is head:
            timeline.add(
                "run_started",
                span.start_ns,
                span,
                order,
                {
                    "run_id": run["run_id"],
                    "name": run["name"],
                    "agent_name": run["agent_name"],
                    "conversation_id": run["conversation_id"],
                    "user_id": run["user_id"],
                    "service_name": run["service_name"],
                },
            )
        if span.category in USAGE_CATEGORIES and span.span_id not in repeated:
            _llm_entries(timeline, span, order, seen_user)
        elif span.category == "tool":
            _tool_entries(timeline, span, order, exchanged)
        _event_entries(timeline, span, order)
        if span is top and span.end_ns is not None:
            timeline.add(
                "run_finished",
                span.end_ns,
                span,
                order,
                {
                    "status": run["status"],
                    "duration_ms": run["duration_ms"],
                    "llm_calls": run["llm_calls"],
                    "tool_calls": run["tool_calls"],
                    "errors": run["errors"],
                    **{t: run[t] for t in TOKEN_FIELDS},
                    "cost_usd": run["cost_usd"],
                    "unpriced_calls": run["unpriced_calls"],
                    "feedback": run["feedback"],
                },
            )
    timeline.entries.sort(key=lambda item: item[0])
    return [(key[0], entry) for key, entry in timeline.entries]


def _llm_entries(timeline: _Timeline, span: SpanRecord, order: int, seen: Counter[str]) -> None:
    inputs = _messages(_content(span, A.GEN_AI_INPUT_MESSAGES))
    here: Counter[str] = Counter()
    for message in inputs:
        if isinstance(message, Mapping) and message.get("role") == "user":
            text = message_text(message)
            if text is None:
                continue
            here[text] += 1
            if here[text] > seen[text]:
                seen[text] += 1
                timeline.add("user_message", span.start_ns, span, order, {"content": text})
    params = {
        k.removeprefix("gen_ai.request."): v
        for k, v in span.attributes.items()
        if k.startswith("gen_ai.request.") and k != A.GEN_AI_REQUEST_MODEL
    }
    timeline.add(
        "llm_request",
        span.start_ns,
        span,
        order,
        {
            "name": span.name,
            "operation": span.operation,
            "model": span.model,
            "provider": span.provider,
            "iteration": span.iteration,
            "params": params,
            "input_messages": len(inputs) if inputs else None,
        },
    )
    if span.end_ns is None:
        return
    outputs = _messages(_content(span, A.GEN_AI_OUTPUT_MESSAGES))
    texts = [t for t in (message_text(m) for m in outputs) if t]
    tool_calls = [
        (e.get("attributes") or {}).get(A.GEN_AI_TOOL_NAME)
        for e in span.events
        if e.get("name") == A.EVENT_TOOL_CALL
    ]
    timeline.add(
        "llm_response",
        span.end_ns,
        span,
        order,
        {
            "model": span.attributes.get(A.GEN_AI_RESPONSE_MODEL) or span.model,
            "status": span.status,
            "duration_ms": span.duration_ms,
            **{t: getattr(span, t) for t in TOKEN_FIELDS},
            "cost_usd": span.cost_usd,
            "counted": span.counted,
            "ttft_ms": span.ttft_ms,
            "output_tps": span.output_tps,
            "finish_reasons": span.attributes.get(A.GEN_AI_RESPONSE_FINISH_REASONS),
            "tool_calls": tool_calls,
            "output": "\n".join(texts) if texts else None,
        },
    )


def _tool_exchanges(llm_spans: Iterable[SpanRecord]) -> dict[tuple[str, str], Any]:
    """Tool call arguments and results by (kind, call id), as the captured messages show them:
    ``tool_call`` parts of model outputs and ``tool_call_response`` parts of later inputs."""
    found: dict[tuple[str, str], Any] = {}
    for span in llm_spans:
        for key, kind, field in (
            (A.GEN_AI_OUTPUT_MESSAGES, "tool_call", "arguments"),
            (A.GEN_AI_INPUT_MESSAGES, "tool_call_response", "response"),
        ):
            for message in _messages(_content(span, key)):
                parts = message.get("parts") if isinstance(message, Mapping) else None
                for part in parts if isinstance(parts, list) else ():
                    if isinstance(part, Mapping) and part.get("type") == kind and part.get("id"):
                        found.setdefault((kind, str(part["id"])), part.get(field))
    return found


def _tool_entries(
    timeline: _Timeline, span: SpanRecord, order: int, exchanged: dict[tuple[str, str], Any]
) -> None:
    """tool_called / tool_result; arguments and result from the tool span's own content, or
    else from the model's messages that carry the same tool call id."""
    arguments = _content(span, A.GEN_AI_TOOL_CALL_ARGUMENTS)
    result = _content(span, A.GEN_AI_TOOL_CALL_RESULT)
    if span.tool_call_id:
        if arguments is None:
            arguments = exchanged.get(("tool_call", span.tool_call_id))
        if result is None:
            result = exchanged.get(("tool_call_response", span.tool_call_id))
    timeline.add(
        "tool_called",
        span.start_ns,
        span,
        order,
        {"tool_name": span.tool_name, "tool_call_id": span.tool_call_id, "arguments": arguments},
    )
    if span.end_ns is not None:
        timeline.add(
            "tool_result",
            span.end_ns,
            span,
            order,
            {
                "tool_name": span.tool_name,
                "tool_call_id": span.tool_call_id,
                "status": span.status,
                "duration_ms": span.duration_ms,
                "error_type": span.error_type,
                "result": result,
            },
        )


def _event_entries(timeline: _Timeline, span: SpanRecord, order: int) -> None:
    exceptions = 0
    for event in span.events:
        name = event.get("name") or ""
        attributes = dict(event.get("attributes") or {})
        ns = event.get("timestamp") or span.start_ns
        if name == A.EVENT_EXCEPTION:
            exceptions += 1
            timeline.add(
                "error",
                ns,
                span,
                order,
                {
                    "span_name": span.name,
                    "error_type": attributes.get(A.EXCEPTION_TYPE) or span.error_type,
                    "message": attributes.get(A.EXCEPTION_MESSAGE),
                    "stacktrace": attributes.get(A.EXCEPTION_STACKTRACE),
                },
            )
        elif name in _KNOWN_EVENTS:
            timeline.add(_KNOWN_EVENTS[name], ns, span, order, attributes)
        elif name not in _NOT_ENTRIES:
            timeline.add("custom", ns, span, order, {"event": name, "attributes": attributes})
    if span.status == "error" and not exceptions:
        timeline.add(
            "error",
            span.end_ns if span.end_ns is not None else span.start_ns,
            span,
            order,
            {
                "span_name": span.name,
                "error_type": span.error_type,
                "message": span.status_message,
                "stacktrace": None,
            },
        )


def select_replay(
    timeline: list[tuple[int, dict[str, Any]]],
    types: frozenset[str] | None,
    since_ns: int | None,
    until_ns: int | None,
) -> list[dict[str, Any]]:
    """The entries of a timeline of the given types within [since, until)."""
    return [
        entry
        for ns, entry in timeline
        if (types is None or entry["type"] in types)
        and (since_ns is None or ns >= since_ns)
        and (until_ns is None or ns < until_ns)
    ]
