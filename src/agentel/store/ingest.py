"""The ingest algorithm every backend shares, as pure functions over span records.

``plan_ingest`` merges a batch into what is stored and derives every change (run ids,
``counted`` flags, run rollups) before anything is written; ``dedupe`` collapses re-delivered
spans; ``nest`` builds the span trees ``trace()`` and ``run_tree()`` return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentel.store.liveness import RUNNING, settle
from agentel.store.records import RunRecord, SpanRecord
from agentel.store.rollup import Node, compute_run, mark_counted, resolve_run_ids

MAX_CONFLICT_RETRIES = 20
"""How often a backend without transactions recomputes runs another writer changed meanwhile."""

Key = tuple[str, str]


def nest(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest span dicts under their parents' ``children``; spans whose parent is absent are roots.

    Children are ordered by start time. Cycles in foreign data cannot recurse: every span is
    placed exactly once, and a span whose parent chain loops is treated as a root. Linear in
    the number of spans, however deep the tree.
    """
    by_id = {s["span_id"]: {**s, "children": []} for s in spans}
    looping = _looping(by_id)
    roots: list[dict[str, Any]] = []
    for span in sorted(by_id.values(), key=lambda s: (s["start_time"] or "", s["span_id"])):
        parent = by_id.get(span["parent_span_id"] or "")
        if parent is None or span["span_id"] in looping:
            roots.append(span)
        else:
            parent["children"].append(span)
    return roots


def _looping(by_id: dict[str, dict[str, Any]]) -> set[str]:
    """The spans whose parent chain runs into a cycle (each chain is walked once)."""
    loops: dict[str, bool] = {}
    for start in by_id:
        path: list[str] = []
        on_path: set[str] = set()
        current = start
        while True:
            if current in loops:
                found = loops[current]
                break
            if current in on_path:
                found = True
                break
            node = by_id.get(current)
            if node is None:
                found = False
                break
            path.append(current)
            on_path.add(current)
            current = node["parent_span_id"] or ""
        for span_id in path:
            loops[span_id] = found
    return {span_id for span_id, found in loops.items() if found}


@dataclass
class IngestPlan:
    """Everything one batch changes, computed before anything is written.

    ``spans`` are the batch's records with their final ``run_id`` and ``counted``; one whose
    ``end_ns`` is None (a live run's top span) is written only if the span is absent, so it
    never replaces the finished span. ``updates`` change (run_id, counted) of spans already
    stored. ``merged`` are stored spans that now carry the merged usage of their model call
    (``rollup.merge_call``): their ``MERGED_FIELDS`` are rewritten, except that a
    ``cost_breakdown`` of None keeps the stored one. ``versions`` are the tokens ``_load``
    returned for the runs it saw, for backends that detect concurrent writers optimistically.
    """

    spans: list[SpanRecord] = field(default_factory=list)
    updates: list[tuple[str, str, str | None, bool]] = field(default_factory=list)
    merged: list[SpanRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    deleted_runs: list[str] = field(default_factory=list)
    versions: dict[str, Any] = field(default_factory=dict)


def dedupe(records: Sequence[SpanRecord]) -> list[SpanRecord]:
    """One record per (trace_id, span_id): the last finished one wins over any unfinished one."""
    by_key: dict[Key, SpanRecord] = {}
    for record in records:
        key = (record.trace_id, record.span_id)
        held = by_key.get(key)
        if held is not None and record.end_ns is None and held.end_ns is not None:
            continue
        by_key[key] = record
    return list(by_key.values())


def plan_ingest(
    batch: Sequence[SpanRecord],
    stored: Sequence[SpanRecord],
    resolve_traces: set[str],
    extra_runs: set[str] = frozenset(),  # type: ignore[assignment]
    versions: dict[str, Any] | None = None,
) -> IngestPlan:
    """The pure core of ingest: merge the batch into what is stored and derive every change.

    ``stored`` must hold every stored span of the runs the batch names and every stored span
    of the traces in ``resolve_traces`` (traces holding spans without a stamped run id).
    The derived fields ``run_id`` (unless stamped) and ``counted`` of every record given,
    batch and stored, are set here; everything else is left as it is.
    """
    merged: dict[Key, SpanRecord] = {}
    before: dict[Key, tuple[str | None, bool]] = {}
    for span in stored:
        key = (span.trace_id, span.span_id)
        merged[key] = span
        before[key] = (span.run_id, span.counted)
    written: list[SpanRecord] = []
    for record in batch:
        key = (record.trace_id, record.span_id)
        held = merged.get(key)
        if held is not None and record.end_ns is None and held.end_ns is not None:
            continue
        if not record.run_id_stamped:
            record.run_id = None  # derived below, from the spans present now
        merged[key] = record
        written.append(record)

    if resolve_traces:
        by_trace: dict[str, list[SpanRecord]] = {t: [] for t in resolve_traces}
        for span in merged.values():
            members = by_trace.get(span.trace_id)
            if members is not None:
                members.append(span)
        for trace_id, members in by_trace.items():
            nodes = {
                s.span_id: Node(
                    s.span_id,
                    s.parent_span_id,
                    s.operation,
                    s.run_id if s.run_id_stamped else None,
                )
                for s in members
            }
            resolved = resolve_run_ids(trace_id, nodes)
            for span in members:
                span.run_id = resolved[span.span_id]

    by_run: dict[str, list[SpanRecord]] = {run_id: [] for run_id in extra_runs}
    for run_id, _ in before.values():
        if run_id:
            by_run.setdefault(run_id, [])
    for span in merged.values():
        if span.run_id:
            by_run.setdefault(span.run_id, []).append(span)

    plan = IngestPlan(spans=written, versions=versions or {})
    written_keys = {(s.trace_id, s.span_id) for s in written}
    for run_id, members in by_run.items():
        plan.merged += [
            s for s in mark_counted(members) if (s.trace_id, s.span_id) not in written_keys
        ]
        run = compute_run(run_id, members)
        if run is not None and run.status == RUNNING:  # process gone, or silent too long
            settle(run, max(max(s.start_ns, s.end_ns or 0) for s in members))
        if run is None:
            plan.deleted_runs.append(run_id)
        else:
            plan.runs.append(run)
    for key, (run_id, counted) in before.items():
        if key in written_keys:
            continue
        span = merged[key]
        if span.run_id != run_id or span.counted != counted:
            plan.updates.append((span.trace_id, span.span_id, span.run_id, span.counted))
    return plan
