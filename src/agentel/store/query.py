"""The backend-independent half of the query API: argument parsing, filters, content search,
statistics and the replay timeline.

Every backend translates the same :class:`RunFilter` / :class:`SpanFilter` into its own query
language, and whatever cannot be pushed down (content search, percentiles, the replay) is
computed here in plain Python, so memory, SQLite and MongoDB give identical answers.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.normalize import USAGE_CATEGORIES
from agentel.store.errors import QueryError
from agentel.store.records import TOKEN_FIELDS, RunRecord, SpanRecord, iso_time
from agentel.store.where import And, Compare, Node, Not, Or, WhereError, parse, to_predicate

# --- times and durations -------------------------------------------------------------------------
_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d|w)\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION_MS = {"ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
TIME_HELP = (
    "a datetime, an ISO date/time such as 2026-11-21 or 2026-11-21T08:00, "
    "or an age such as 30m, 2h, 7d, 2w"
)


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def parse_time(value: datetime | date | timedelta | str | None, what: str = "since") -> int | None:
    """Nanoseconds since the epoch for a filter bound; None stays None.

    Accepts a datetime (naive means UTC), a date (midnight UTC), a timedelta or an age string
    (``30m``, ``2h``, ``7d``, ``2w``: that long before now) or an ISO-8601 date/time string.
    Anything else raises :class:`QueryError` naming ``what`` and the bad value.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _ns(value)
    if isinstance(value, date):
        return _ns(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise QueryError(f"{what}: an age must not be negative; got {value!r}")
        return _ns(datetime.now(timezone.utc) - value)
    if isinstance(value, str):
        age = _AGE.match(value)
        if age:
            seconds = float(age.group(1)) * _AGE_UNITS[age.group(2)]
            return _ns(datetime.now(timezone.utc) - timedelta(seconds=seconds))
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _ns(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise QueryError(f"{what}: {value!r} is not a time; use {TIME_HELP}")


def parse_duration_ms(
    value: float | timedelta | str | None, what: str = "min_duration"
) -> float | None:
    """Milliseconds for a duration bound: a number (ms), a timedelta, or ``500ms`` / ``2s`` /
    ``1.5m`` / ``1h``. Anything else (or a negative value) raises :class:`QueryError`."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        ms = value.total_seconds() * 1e3
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ms = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        ms = float(found.group(1)) * _DURATION_MS[found.group(2) or "ms"]
    else:
        raise QueryError(
            f"{what}: {value!r} is not a duration; use milliseconds or 500ms, 2s, 1.5m, 1h"
        )
    if not math.isfinite(ms) or ms < 0:
        raise QueryError(f"{what} must be a finite, non-negative duration; got {value!r}")
    return ms


def _number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QueryError(f"{what} must be a finite number; got {value!r}")
    return float(value)


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError(f"{what} must be a string; got {value!r}")
    return value


# --- filters ---------------------------------------------------------------------------------------
MAX_TEXT = 1_000


@dataclass(frozen=True)
class RunFilter:
    """Validated ``runs()`` filters; times in ns, durations in ms, ``where`` parsed."""

    agent: str | None = None
    status: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    model: str | None = None
    provider: str | None = None
    conversation: str | None = None
    user: str | None = None
    service: str | None = None
    min_cost: float | None = None
    min_duration_ms: float | None = None
    has_error: bool | None = None
    text: str | None = None
    where: Node | None = None

    def equalities(self) -> dict[str, str]:
        """The exact-match filters that are set, keyed by the run field they compare."""
        pairs = (
            ("agent_name", self.agent),
            ("status", self.status),
            ("conversation_id", self.conversation),
            ("user_id", self.user),
            ("service_name", self.service),
        )
        return {field: value for field, value in pairs if value is not None}


def run_filter(
    *,
    agent: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    model: str | None = None,
    provider: str | None = None,
    conversation: str | None = None,
    user: str | None = None,
    service: str | None = None,
    min_cost: float | None = None,
    min_duration: Any = None,
    has_error: bool | None = None,
    text: str | None = None,
    where: str | Node | None = None,
) -> RunFilter:
    """Check and normalize the arguments of ``Store.runs``; errors name the bad value."""
    if has_error is not None and not isinstance(has_error, bool):
        raise QueryError(f"has_error must be True, False or None; got {has_error!r}")
    text = _text(text, "text")
    if text is not None and not text:
        raise QueryError("text must not be empty")
    if text is not None and len(text) > MAX_TEXT:
        raise QueryError(f"text is {len(text)} characters long; the limit is {MAX_TEXT}")
    if isinstance(where, str):
        where = parse(where)
    elif where is not None and not isinstance(where, (Compare, And, Or, Not)):
        raise WhereError(f"where must be a filter string; got {type(where).__name__}")
    min_cost = _number(min_cost, "min_cost")
    return RunFilter(
        agent=_text(agent, "agent"),
        status=_text(status, "status"),
        since_ns=parse_time(since, "since"),
        until_ns=parse_time(until, "until"),
        model=_text(model, "model"),
        provider=_text(provider, "provider"),
        conversation=_text(conversation, "conversation"),
        user=_text(user, "user"),
        service=_text(service, "service"),
        min_cost=min_cost,
        min_duration_ms=parse_duration_ms(min_duration),
        has_error=has_error,
        text=text,
        where=where,
    )


def run_matches(run: RunRecord, f: RunFilter) -> bool:
    """The run-table part of a filter in Python (provider and text need the run's spans)."""
    duration = run.duration_ms
    return (
        (f.agent is None or run.agent_name == f.agent)
        and (f.status is None or run.status == f.status)
        and (f.since_ns is None or (run.start_ns is not None and run.start_ns >= f.since_ns))
        and (f.until_ns is None or (run.start_ns is not None and run.start_ns < f.until_ns))
        and (f.model is None or f.model in run.models)
        and (f.conversation is None or run.conversation_id == f.conversation)
        and (f.user is None or run.user_id == f.user)
        and (f.service is None or run.service_name == f.service)
        and (f.min_cost is None or run.cost_usd >= f.min_cost)
        and (f.min_duration_ms is None or (duration is not None and duration >= f.min_duration_ms))
        and (f.has_error is None or (run.errors > 0) == f.has_error)
        and (f.where is None or to_predicate(f.where)(run.to_dict()))
    )


SPAN_STATUSES = ("unset", "ok", "error")


@dataclass(frozen=True)
class SpanFilter:
    """Validated ``spans()`` / ``export()`` filters; times in ns."""

    trace_id: str | None = None
    run_id: str | None = None
    category: str | None = None
    operation: str | None = None
    tool: str | None = None
    model: str | None = None
    status: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None

    def equalities(self) -> dict[str, str]:
        """The exact-match filters that are set, keyed by the span field they compare."""
        pairs = (
            ("trace_id", self.trace_id),
            ("run_id", self.run_id),
            ("category", self.category),
            ("operation", self.operation),
            ("tool_name", self.tool),
            ("model", self.model),
            ("status", self.status),
        )
        return {field: value for field, value in pairs if value is not None}


def span_filter(
    *,
    trace_id: str | None = None,
    run_id: str | None = None,
    category: str | None = None,
    operation: str | None = None,
    tool: str | None = None,
    model: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
) -> SpanFilter:
    """Check and normalize the arguments of ``Store.spans`` / ``Store.export``."""
    return SpanFilter(
        trace_id=_text(trace_id, "trace_id"),
        run_id=_text(run_id, "run_id"),
        category=_text(category, "category"),
        operation=_text(operation, "operation"),
        tool=_text(tool, "tool"),
        model=_text(model, "model"),
        status=_text(status, "status"),
        since_ns=parse_time(since, "since"),
        until_ns=parse_time(until, "until"),
    )


def span_matches(span: SpanRecord, f: SpanFilter) -> bool:
    """A span filter in Python."""
    return (
        (f.trace_id is None or span.trace_id == f.trace_id)
        and (f.run_id is None or span.run_id == f.run_id)
        and (f.category is None or span.category == f.category)
        and (f.operation is None or span.operation == f.operation)
        and (f.tool is None or span.tool_name == f.tool)
        and (f.model is None or span.model == f.model)
        and (f.status is None or span.status == f.status)
        and (f.since_ns is None or span.start_ns >= f.since_ns)
        and (f.until_ns is None or span.start_ns < f.until_ns)
    )


def span_order(span: SpanRecord) -> tuple[int, str, str]:
    """The order of ``spans()`` and ``export()`` on every backend."""
    return (span.start_ns, span.span_id, span.trace_id)


# --- content search ------------------------------------------------------------------------------
CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_CALL_ARGUMENTS,
    A.GEN_AI_TOOL_CALL_RESULT,
)
"""The captured-content attributes ``runs(text=...)`` searches (on spans and span events)."""

_STRUCTURAL = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Lower-case ASCII letters only: what SQLite's LIKE folds, so every backend agrees."""
    return text.translate(_ASCII_LOWER)


def _leaves(value: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(value, str):
        if key not in _STRUCTURAL:
            yield value
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, Mapping):
        for k, item in value.items():
            yield from _leaves(item, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)


def content_texts(value: Any) -> Iterator[str]:
    """The searchable texts of one content attribute value.

    A JSON value (the parts-based messages) is decoded and its texts searched, not its
    structure (roles, part types, ids); anything else (plain or truncated text) as it is.
    """
    if not isinstance(value, str):
        yield from _leaves(value)
        return
    if value[:1] in ("[", "{", '"'):
        try:
            decoded = json.loads(value)
        except ValueError:
            pass
        else:
            yield from _leaves(decoded)
            return
    yield value


def span_has_text(
    attributes: Mapping[str, Any], events: Iterable[Mapping[str, Any]], needle: str
) -> bool:
    """Whether ``needle`` (already :func:`fold`-ed) occurs in the span's captured content."""
    sources = [attributes, *((e.get("attributes") or {}) for e in events)]
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        for key in CONTENT_KEYS:
            value = source.get(key)
            if value is not None and any(needle in fold(t) for t in content_texts(value)):
                return True
    return False


def _escaped(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def stored_patterns(needle: str) -> list[str]:
    """Substrings one of which the *stored* attributes/events JSON must contain when a span
    matches ``needle``: the needle as the store escapes it, and as content JSON escaped it
    first (with or without ASCII escapes). JSON escaping maps each character on its own, so
    this is a safe pre-filter for backends that search the stored text; Python decides."""
    variants = {needle, _escaped(needle, False), _escaped(needle, True)}
    return sorted({_escaped(v, False) for v in variants})


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '!'`` with the wildcards in ``text`` escaped."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


# --- statistics ------------------------------------------------------------------------------------
STATS_BY = ("model", "provider", "tool", "agent", "day", "hour")
SPAN_GROUPINGS = ("model", "provider", "tool")
PERCENTILES = (50, 95)


def check_stats_by(by: str) -> str:
    if by not in STATS_BY:
        raise QueryError(f"stats by must be one of {', '.join(STATS_BY)}; got {by!r}")
    return by


def bucket(start_ns: int, by: str) -> str:
    """The UTC day (``2026-11-21``) or hour (``2026-11-21T19:00Z``) a start time falls in."""
    moment = datetime.fromtimestamp(start_ns // 1_000_000_000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d" if by == "day" else "%Y-%m-%dT%H:00Z")


PICO = 1e12


def pico(usd: float | None) -> int:
    """USD as whole picodollars, rounded half up (``CAST(usd * 1e12 + 0.5 AS INTEGER)`` in
    SQL): costs are summed as integers, so every backend gets the same total exactly."""
    return 0 if usd is None else int(usd * PICO + 0.5)


def nearest_rank(ordered: list[int], percentile: int) -> int | None:
    """The nearest-rank percentile of ascending integers: the value at rank ceil(p/100 * n)."""
    if not ordered:
        return None
    return ordered[max(1, (percentile * len(ordered) + 99) // 100) - 1]


def rank(count: int, percentile: int) -> int:
    """The 0-based position :func:`nearest_rank` reads (for backends that seek to it)."""
    return max(1, (percentile * count + 99) // 100) - 1


@dataclass
class Fact:
    """One counted item of a statistic: a span (model/provider/tool) or a run (agent/day/hour)."""

    key: str | None
    duration_ns: int | None
    error: bool
    tokens: tuple[int, int, int, int, int]
    cost_pico: int
    unpriced: int


def span_fact(span: SpanRecord, by: str) -> Fact | None:
    """The fact a span contributes to ``stats(by)``, or None when that grouping skips it.

    ``model`` / ``provider``: LLM and embedding spans whose usage counts towards runs
    (``counted``), so the totals match the run rollups. ``tool``: tool spans.
    """
    if by == "tool":
        if span.category != "tool":
            return None
        key, cost, unpriced = span.tool_name, 0, 0
    else:
        if not span.counted or span.category not in USAGE_CATEGORIES:
            return None
        key = span.model if by == "model" else span.provider
        cost, unpriced = pico(span.cost_usd), int(span.cost_usd is None)
    return Fact(
        key=key,
        duration_ns=None if span.end_ns is None else max(0, span.end_ns - span.start_ns),
        error=span.status == "error",
        tokens=tuple(getattr(span, t) or 0 for t in TOKEN_FIELDS),  # type: ignore[arg-type]
        cost_pico=cost,
        unpriced=unpriced,
    )


def run_fact(run: RunRecord, by: str) -> Fact:
    """The fact a run contributes to ``stats(by)`` for agent / day / hour."""
    if by == "agent":
        key = run.agent_name
    else:
        key = None if run.start_ns is None else bucket(run.start_ns, by)
    duration = None
    if run.start_ns is not None and run.end_ns is not None:
        duration = max(0, run.end_ns - run.start_ns)
    return Fact(
        key=key,
        duration_ns=duration,
        error=run.status == "error",
        tokens=tuple(getattr(run, t) for t in TOKEN_FIELDS),  # type: ignore[arg-type]
        cost_pico=pico(run.cost_usd),
        unpriced=run.unpriced_calls,
    )


def stat_row(
    key: str | None,
    count: int,
    errors: int,
    tokens: Iterable[int],
    cost_pico: int,
    unpriced: int,
    p50_ns: int | None,
    p95_ns: int | None,
) -> dict[str, Any]:
    """One group of ``stats()`` in its stable JSON shape."""
    return {
        "group": key,
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else 0.0,
        **dict(zip(TOKEN_FIELDS, (int(t) for t in tokens), strict=True)),
        "cost_usd": cost_pico / PICO,
        "unpriced_calls": unpriced,
        "p50_ms": None if p50_ns is None else p50_ns / 1e6,
        "p95_ms": None if p95_ns is None else p95_ns / 1e6,
    }


def summarize(facts: Iterable[Fact]) -> list[dict[str, Any]]:
    """``stats()`` rows from facts, computed in Python (memory and MongoDB backends)."""
    groups: dict[str | None, list[Fact]] = {}
    for fact in facts:
        groups.setdefault(fact.key, []).append(fact)
    rows = []
    for key, members in groups.items():
        durations = sorted(f.duration_ns for f in members if f.duration_ns is not None)
        rows.append(
            stat_row(
                key,
                len(members),
                sum(f.error for f in members),
                (sum(f.tokens[i] for f in members) for i in range(len(TOKEN_FIELDS))),
                sum(f.cost_pico for f in members),
                sum(f.unpriced for f in members),
                *(nearest_rank(durations, p) for p in PERCENTILES),
            )
        )
    return rows


def order_stats(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Days and hours in time order; other groups by cost, then count, descending."""
    if by in ("day", "hour"):
        return sorted(rows, key=lambda r: (r["group"] is None, r["group"] or ""))
    return sorted(
        rows, key=lambda r: (-r["cost_usd"], -r["count"], r["group"] is None, r["group"] or "")
    )


# --- replay ---------------------------------------------------------------------------------------
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
    ``llm_response`` at the start / end of each LLM or embedding span (tokens, cost, TTFT);
    ``tool_called`` / ``tool_result`` at the start / end of each tool span; ``plan``,
    ``state_updated`` and ``custom`` from agentel events; ``error`` from exception events,
    or at the end of a failed span that recorded none. Ties in time break by entry kind
    (requests before results), then span start order, then span id.
    """
    ordered = sorted(spans, key=span_order)
    exchanged = _tool_exchanges(s for s in ordered if s.category in USAGE_CATEGORIES)
    timeline = _Timeline()
    top = next((s for s in ordered if s.span_id == run["run_id"]), None)
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
        if span.category in USAGE_CATEGORIES:
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
