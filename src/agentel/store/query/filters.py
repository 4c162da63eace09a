"""Validated run and span filters, and the Python predicates every backend falls back to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentel.store.errors import QueryError
from agentel.store.query.times import check_number, check_text, parse_duration_ms, parse_time
from agentel.store.records import SPAN_FIELDS, RunRecord, SpanRecord, model_key
from agentel.store.where import And, Compare, Node, Not, Or, WhereError, parse, to_predicate

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
    tool: str | None = None
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
    tool: str | None = None,
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
    text = check_text(text, "text")
    if text is not None and not text:
        raise QueryError("text must not be empty")
    if text is not None and len(text) > MAX_TEXT:
        raise QueryError(f"text is {len(text)} characters long; the limit is {MAX_TEXT}")
    if isinstance(where, str):
        where = parse(where)
    elif where is not None and not isinstance(where, (Compare, And, Or, Not)):
        raise WhereError(f"where must be a filter string; got {type(where).__name__}")
    min_cost = check_number(min_cost, "min_cost")
    return RunFilter(
        agent=check_text(agent, "agent"),
        status=check_text(status, "status"),
        since_ns=parse_time(since, "since"),
        until_ns=parse_time(until, "until"),
        model=check_text(model, "model"),
        provider=check_text(provider, "provider"),
        tool=check_text(tool, "tool"),
        conversation=check_text(conversation, "conversation"),
        user=check_text(user, "user"),
        service=check_text(service, "service"),
        min_cost=min_cost,
        min_duration_ms=parse_duration_ms(min_duration),
        has_error=has_error,
        text=text,
        where=where,
    )


def run_fields(run: RunRecord) -> dict[str, Any]:
    """What a ``where`` predicate reads: the run's JSON fields and its ``model_keys``."""
    return {**run.to_dict(), "model_keys": run.model_keys}


def run_matches(run: RunRecord, f: RunFilter) -> bool:
    """The run-table part of a filter in Python (provider, tool and text need the run's
    spans)."""
    duration = run.duration_ms
    return (
        (f.agent is None or run.agent_name == f.agent)
        and (f.status is None or run.status == f.status)
        and (f.since_ns is None or (run.start_ns is not None and run.start_ns >= f.since_ns))
        and (f.until_ns is None or (run.start_ns is not None and run.start_ns < f.until_ns))
        and (f.model is None or model_key(f.model) in run.model_keys)
        and (f.conversation is None or run.conversation_id == f.conversation)
        and (f.user is None or run.user_id == f.user)
        and (f.service is None or run.service_name == f.service)
        and (f.min_cost is None or run.cost_usd >= f.min_cost)
        and (f.min_duration_ms is None or (duration is not None and duration >= f.min_duration_ms))
        and (f.has_error is None or (run.errors > 0) == f.has_error)
        and (f.where is None or to_predicate(f.where)(run_fields(run)))
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
        trace_id=check_text(trace_id, "trace_id"),
        run_id=check_text(run_id, "run_id"),
        category=check_text(category, "category"),
        operation=check_text(operation, "operation"),
        tool=check_text(tool, "tool"),
        model=check_text(model, "model"),
        status=check_text(status, "status"),
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


def check_fields(fields: Any) -> tuple[str, ...] | None:
    """``spans(fields=...)`` checked: None, or span-dict keys, each once, in the order given."""
    if fields is None:
        return None
    if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
        raise QueryError(f"fields must be a list of span field names; got {fields!r}")
    unknown = [f for f in fields if f not in SPAN_FIELDS]
    if unknown:
        raise QueryError(
            f"unknown span field(s) {', '.join(map(repr, unknown))}; "
            f"the fields are {', '.join(SPAN_FIELDS)}"
        )
    if not fields:
        raise QueryError("fields must name at least one span field")
    return tuple(dict.fromkeys(fields))


def span_order(span: SpanRecord) -> tuple[int, str, str]:
    """The order of ``spans()`` and ``export()`` on every backend."""
    return (span.start_ns, span.span_id, span.trace_id)
