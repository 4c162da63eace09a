"""Statistics: grouping facts, exact percentiles and the ``stats()`` rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from agentel.semconv.normalize import USAGE_CATEGORIES
from agentel.store.errors import QueryError
from agentel.store.records import TOKEN_FIELDS, RunRecord, SpanRecord

STATS_BY = ("model", "response_model", "provider", "tool", "agent", "day", "hour")
SPAN_GROUPINGS = ("model", "response_model", "provider", "tool")
GROUP_FIELDS = {
    "model": "request_model",
    "response_model": "model",
    "provider": "provider",
    "tool": "tool_name",
}
"""The span field each span grouping groups by."""
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

    ``model`` (the request model), ``response_model`` (the model that answered, such as a
    dated snapshot; the request model when the response names none) and ``provider``: LLM
    and embedding spans whose usage counts towards runs (``counted``), so the totals match
    the run rollups. ``tool``: tool spans.
    """
    if by == "tool":
        if span.category != "tool":
            return None
        key, cost, unpriced = span.tool_name, 0, 0
    else:
        if not span.counted or span.category not in USAGE_CATEGORIES:
            return None
        key = getattr(span, GROUP_FIELDS[by])
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
