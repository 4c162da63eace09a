"""Compare two runs step by step: what each did, what it cost, and whether behaviour diverged.

A run's steps are its LLM calls (the usage spans whose tokens count, so a framework span and
the provider span under it are one step) and its tool calls (a tool span nested in one of the
same tool, such as an MCP server's under the client's, is the same call), in start order. The two step
lists are aligned by kind and tool name (a longest-common-subsequence alignment), so an
extra or missing step shows as added / removed and the rest still line up.

Behaviour is what the agent did: the tool calls each model answer asked for (names and
arguments), the model's output text, each tool's name, arguments and result, and whether a
step failed. Model, tokens, cost and latency are reported per step and in total but never
count as a divergence. Outputs and arguments are only known when content capture was on;
without it both sides read ``None`` and compare equal (``content`` in the result says so).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.normalize import USAGE_CATEGORIES
from agentel.store.query.filters import span_order
from agentel.store.query.replay import _content, _tool_exchanges, message_text
from agentel.store.records import TOKEN_FIELDS, SpanRecord
from agentel.store.rollup import call_groups, repeated_tool_calls

STEP_NUMBERS = (*TOKEN_FIELDS, "cost_usd", "duration_ms")
"""Per-step numbers whose b - a difference is reported (never a divergence)."""

TOTAL_FIELDS = ("duration_ms", "llm_calls", "tool_calls", "errors", *TOKEN_FIELDS, "cost_usd")
"""Run fields whose totals and b - a deltas are reported."""

BEHAVIOUR_FIELDS = {
    "llm": ("status", "tool_calls", "output"),
    "tool": ("tool_name", "status", "arguments", "output"),
}
"""The fields of a step that define behaviour; any difference in them is a divergence."""


def _parsed(value: Any) -> Any:
    """JSON text as the value it encodes (so key order and spacing never differ), else as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _llm_tool_calls(span: SpanRecord, outputs: list[Any]) -> list[dict[str, Any]]:
    """The tool calls a model answer asked for: from its output messages, else its events."""
    calls = [
        {"name": part.get("name"), "arguments": _parsed(part.get("arguments"))}
        for message in outputs
        if isinstance(message, Mapping)
        for part in message.get("parts") or ()
        if isinstance(part, Mapping) and part.get("type") == "tool_call"
    ]
    if calls:
        return calls
    return [
        {
            "name": attrs.get(A.GEN_AI_TOOL_NAME),
            "arguments": _parsed(attrs.get(A.GEN_AI_TOOL_CALL_ARGUMENTS)),
        }
        for event in span.events
        if event.get("name") == A.EVENT_TOOL_CALL
        for attrs in [event.get("attributes") or {}]
    ]


def _status(span: SpanRecord) -> str:
    return "error" if span.status == "error" else "ok"


def _numbers(span: SpanRecord) -> dict[str, Any]:
    return {name: getattr(span, name) for name in STEP_NUMBERS}


def _has_content(span: SpanRecord) -> bool:
    return _content(span, A.GEN_AI_INPUT_MESSAGES) is not None


def llm_call_spans(ordered: list[SpanRecord]) -> list[tuple[SpanRecord, SpanRecord]]:
    """One (counted span, content span) pair per LLM call, in the order given.

    A call can show as nested usage spans (a framework's, agentel's provider span, an SDK's
    own): the outermost is the one whose (merged) tokens count, and the innermost of the nest
    that captured the messages (closest to the wire request) is the one whose content tells
    what was asked and answered.
    """
    groups = call_groups(ordered)
    calls = []
    for span in ordered:
        members = groups.get(span.span_id)
        if members is not None:
            calls.append((span, next((s for s in reversed(members) if _has_content(s)), span)))
    return calls


def run_steps(spans: Iterable[SpanRecord]) -> tuple[list[dict[str, Any]], bool]:
    """The steps of one run in start order, and whether any of them carries captured content."""
    ordered = sorted(spans, key=span_order)
    llm = {counted.span_id: shown for counted, shown in llm_call_spans(ordered)}
    repeats = repeated_tool_calls(ordered)
    exchanged = _tool_exchanges(s for s in ordered if s.category in USAGE_CATEGORIES)
    steps: list[dict[str, Any]] = []
    content = False
    for span in ordered:
        if span.category == "tool" and span.span_id not in repeats:
            arguments = _content(span, A.GEN_AI_TOOL_CALL_ARGUMENTS)
            result = _content(span, A.GEN_AI_TOOL_CALL_RESULT)
            if span.tool_call_id:
                if arguments is None:
                    arguments = exchanged.get(("tool_call", span.tool_call_id))
                if result is None:
                    result = exchanged.get(("tool_call_response", span.tool_call_id))
            content = content or arguments is not None or result is not None
            steps.append(
                {
                    "kind": "tool",
                    "span_id": span.span_id,
                    "name": span.name,
                    "tool_name": span.tool_name,
                    "status": _status(span),
                    "model": None,
                    "provider": None,
                    **_numbers(span),
                    "tool_calls": None,
                    "arguments": _parsed(arguments),
                    "output": _parsed(result),
                }
            )
        elif span.span_id in llm:
            shown = llm[span.span_id]
            raw = _content(shown, A.GEN_AI_OUTPUT_MESSAGES)
            outputs = raw if isinstance(raw, list) else ([] if raw is None else [raw])
            texts = [t for t in (message_text(m) for m in outputs) if t]
            content = content or raw is not None
            steps.append(
                {
                    "kind": "llm",
                    "span_id": span.span_id,
                    "name": span.name,
                    "tool_name": None,
                    "status": _status(span),
                    "model": shown.attributes.get(A.GEN_AI_RESPONSE_MODEL) or shown.model,
                    "provider": shown.provider or span.provider,
                    **_numbers(span),
                    "tool_calls": _llm_tool_calls(shown, outputs),
                    "arguments": None,
                    "output": "\n".join(texts) if texts else None,
                }
            )
    return _canonical(steps), content


def _canonical(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive tool steps (the calls of one model answer, which may run in parallel and
    start in any order) sorted by tool name and arguments, so runs that did the same line up."""
    out: list[dict[str, Any]] = []
    stretch: list[dict[str, Any]] = []
    for step in [*steps, None]:
        if step is not None and step["kind"] == "tool":
            stretch.append(step)
            continue
        stretch.sort(
            key=lambda s: (
                s["tool_name"] or "",
                json.dumps(s["arguments"], sort_keys=True, default=str),
            )
        )
        out += stretch
        stretch = []
        if step is not None:
            out.append(step)
    return out


def _key(step: Mapping[str, Any]) -> tuple[str, str | None]:
    return step["kind"], step["tool_name"]


def _delta(a: Any, b: Any) -> Any:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        value = b - a
        return round(value, 12) if isinstance(value, float) else value
    return None


def _pair(index: int, a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    if a is None or b is None:
        return {
            "index": index,
            "status": "removed" if b is None else "added",
            "a": a,
            "b": b,
            "differences": [],
            "deltas": {},
        }
    fields = dict.fromkeys(BEHAVIOUR_FIELDS[a["kind"]] + BEHAVIOUR_FIELDS[b["kind"]])
    if a["kind"] != b["kind"]:
        fields = dict.fromkeys(("kind", *fields))
    differences = [
        {"field": name, "a": a.get(name), "b": b.get(name)}
        for name in fields
        if a.get(name) != b.get(name)
    ]
    return {
        "index": index,
        "status": "changed" if differences else "same",
        "a": a,
        "b": b,
        "differences": differences,
        "deltas": {name: _delta(a[name], b[name]) for name in STEP_NUMBERS},
    }


def align(steps_a: list[dict[str, Any]], steps_b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair the steps of two runs: equal (kind, tool name) runs line up, a replaced stretch
    pairs position by position, and what is left over is removed (only in a) or added."""
    matcher = difflib.SequenceMatcher(
        None, [_key(s) for s in steps_a], [_key(s) for s in steps_b], autojunk=False
    )
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = steps_a[i1:i2], steps_b[j1:j2]
        common = min(len(left), len(right))
        pairs += zip(left[:common], right[:common], strict=True)
        pairs += [(step, None) for step in left[common:]]
        pairs += [(None, step) for step in right[common:]]
    return [_pair(index, a, b) for index, (a, b) in enumerate(pairs, start=1)]


def diff_runs(
    run_a: Mapping[str, Any],
    spans_a: Iterable[SpanRecord],
    run_b: Mapping[str, Any],
    spans_b: Iterable[SpanRecord],
) -> dict[str, Any]:
    """The comparison of two runs (see :meth:`agentel.store.Store.diff` for its shape)."""
    steps_a, content_a = run_steps(spans_a)
    steps_b, content_b = run_steps(spans_b)
    steps = align(steps_a, steps_b)
    return {
        "run_a": dict(run_a),
        "run_b": dict(run_b),
        "same": all(step["status"] == "same" for step in steps),
        "content": content_a and content_b,
        "steps": steps,
        "totals": {
            name: {
                "a": run_a.get(name),
                "b": run_b.get(name),
                "delta": _delta(run_a.get(name), run_b.get(name)),
            }
            for name in TOTAL_FIELDS
        },
    }
