"""The in-process backend (``memory://``): plain dicts behind one lock, nothing persisted.

For tests, notebooks and short scripts; it runs the same ingest algorithm as the persistent
backends, so it answers every query exactly as they do.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from agentel.store.base import (
    IngestPlan,
    Store,
    check_prefix,
    check_score,
    cutoff_ns,
    dropped_entries,
    feedback_entry,
    pick_prefix,
    run_sort_key,
)
from agentel.store.ingest import Key
from agentel.store.query import (
    SPAN_GROUPINGS,
    RunFilter,
    SpanFilter,
    run_fact,
    run_matches,
    span_fact,
    span_matches,
    span_order,
    summarize,
)
from agentel.store.records import RunRecord, SpanRecord
from agentel.store.rollup import MERGED_FIELDS


class MemoryStore(Store):
    """A thread-safe store in dicts; each instance is its own, empty store."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._lock = threading.RLock()
        self._spans: dict[Key, SpanRecord] = {}
        self._by_trace: dict[str, set[Key]] = {}
        self._by_run: dict[str, set[Key]] = {}
        self._runs: dict[str, RunRecord] = {}
        self._feedback: list[dict[str, Any]] = []
        self._dropped: dict[tuple[str, int], dict[str, Any]] = {}

    # --- ingest primitives ------------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._lock:
            yield

    def _unstamped_traces(self, trace_ids: set[str]) -> set[str]:
        return {
            trace_id
            for trace_id in trace_ids
            if any(not self._spans[k].run_id_stamped for k in self._by_trace.get(trace_id, ()))
        }

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock:
            yield

    def _load(
        self, run_ids: set[str], trace_ids: set[str]
    ) -> tuple[list[SpanRecord], dict[str, Any]]:
        keys: set[Key] = set()
        with self._lock:
            for run_id in run_ids:
                keys |= self._by_run.get(run_id, set())
            for trace_id in trace_ids:
                keys |= self._by_trace.get(trace_id, set())
            return [replace(self._spans[k]) for k in keys], {}

    def _census(self) -> tuple[set[str], dict[str, int], dict[str, int]]:
        with self._lock:
            unassigned = Counter(s.trace_id for s in self._spans.values() if s.run_id is None)
            per_run = {run_id: len(keys) for run_id, keys in self._by_run.items()}
            return set(self._runs), per_run, dict(unassigned)

    def _apply(self, plan: IngestPlan) -> set[str]:
        for record in plan.spans:
            key = (record.trace_id, record.span_id)
            held = self._spans.get(key)
            if held is not None:
                if record.end_ns is None and held.end_ns is not None:
                    continue
                self._index_run(key, held.run_id, None)
            self._spans[key] = replace(record)
            self._by_trace.setdefault(record.trace_id, set()).add(key)
            self._index_run(key, None, record.run_id)
        for trace_id, span_id, run_id, counted in plan.updates:
            key = (trace_id, span_id)
            held = self._spans[key]
            self._index_run(key, held.run_id, run_id)
            held.run_id, held.counted = run_id, counted
        for record in plan.merged:
            held = self._spans[(record.trace_id, record.span_id)]
            for name in MERGED_FIELDS:
                value = getattr(record, name)
                if value is not None or name != "cost_breakdown":
                    setattr(held, name, value)
        for run_id in plan.deleted_runs:
            self._runs.pop(run_id, None)
        for run in plan.runs:
            held_run = self._runs.get(run.run_id)
            self._runs[run.run_id] = replace(
                run, feedback=held_run.feedback if held_run is not None else None
            )
        return set()

    def _index_run(self, key: Key, old: str | None, new: str | None) -> None:
        if old == new:
            return
        if old is not None:
            members = self._by_run.get(old)
            if members is not None:
                members.discard(key)
                if not members:
                    del self._by_run[old]
        if new is not None:
            self._by_run.setdefault(new, set()).add(key)

    def _running_on(self, host: str) -> list[tuple[str, int | None, int | None]]:
        with self._lock:
            return [
                (r.run_id, r.pid, r.start_ns)
                for r in self._runs.values()
                if r.status == "running" and r.host == host
            ]

    def _silent_since(self, cutoff_ns: int) -> list[str]:
        with self._lock:
            return [
                run.run_id
                for run in self._runs.values()
                if run.status == "running"
                and all(
                    max(self._spans[k].start_ns, self._spans[k].end_ns or 0) < cutoff_ns
                    for k in self._by_run.get(run.run_id, ())
                )
            ]

    def _set_abandoned(self, run_ids: list[str]) -> None:
        with self._lock:
            for run_id in run_ids:
                run = self._runs.get(run_id)
                if run is not None and run.status == "running":
                    run.status = "abandoned"

    # --- queries ----------------------------------------------------------------------------
    def _content_candidates(
        self, patterns: list[str]
    ) -> Iterable[tuple[str | None, dict[str, Any], list[dict[str, Any]]]]:
        with self._lock:
            return [(s.run_id, s.attributes, s.events) for s in self._spans.values()]

    def _find_runs(
        self,
        found: RunFilter,
        run_ids: set[str] | None,
        limit: int | None,
        offset: int,
        order_by: str,
    ) -> list[RunRecord]:
        key = run_sort_key(order_by)
        with self._lock:
            providers = None
            if found.provider is not None:
                providers = {
                    s.run_id
                    for s in self._spans.values()
                    if s.counted and s.provider == found.provider
                }
            tools = None
            if found.tool is not None:
                tools = {s.run_id for s in self._spans.values() if s.tool_name == found.tool}
            matching = [
                replace(r)
                for r in self._runs.values()
                if (run_ids is None or r.run_id in run_ids)
                and (providers is None or r.run_id in providers)
                and (tools is None or r.run_id in tools)
                and run_matches(r, found)
            ]
        matching.sort(key=lambda r: r.run_id)
        matching.sort(key=lambda r: (key(r) is not None, key(r) or 0), reverse=True)
        end = None if limit is None else offset + limit
        return matching[offset:end]

    def _span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        with self._lock:
            found = self._spans.get((trace_id, span_id))
            return None if found is None else replace(found)

    def run(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            full = self._prefix(run_id, self._runs, "run")
            return self._runs[full].to_dict()

    def resolve_trace_id(self, trace_id: str) -> str:
        with self._lock:
            return self._prefix(trace_id, self._by_trace, "trace")

    def _prefix(self, value: str, ids: Any, what: str) -> str:
        prefix = check_prefix(value, what)
        found = sorted(i for i in ids if i.startswith(prefix))[:11]
        return pick_prefix(value, prefix, found, what, self.url)

    def _iter_spans(self, found: SpanFilter) -> Iterator[SpanRecord]:
        with self._lock:
            keys: Any = self._spans.keys()
            if found.trace_id is not None:
                keys = self._by_trace.get(found.trace_id, set())
            if found.run_id is not None:
                keys = set(keys) & self._by_run.get(found.run_id, set())
            matching = [
                replace(self._spans[k]) for k in keys if span_matches(self._spans[k], found)
            ]
        matching.sort(key=span_order)
        return iter(matching)

    def _stats(self, by: str, since_ns: int | None, until_ns: int | None) -> list[dict[str, Any]]:
        def within(start_ns: int | None) -> bool:
            if start_ns is None:
                return since_ns is None and until_ns is None
            return (since_ns is None or start_ns >= since_ns) and (
                until_ns is None or start_ns < until_ns
            )

        with self._lock:
            if by in SPAN_GROUPINGS:
                facts = [span_fact(s, by) for s in self._spans.values() if within(s.start_ns)]
                return summarize(f for f in facts if f is not None)
            return summarize(run_fact(r, by) for r in self._runs.values() if within(r.start_ns))

    # --- feedback and retention -------------------------------------------------------------
    def record_dropped_spans(
        self,
        count: int,
        *,
        host: str,
        pid: int,
        service_name: str | None = None,
        live_runs: int = 0,
    ) -> None:
        count, live_runs = max(0, count), max(0, live_runs)
        if not count and not live_runs:
            return
        now = time.time_ns()
        with self._lock:
            entry = self._dropped.setdefault(
                (host, pid),
                {
                    "host": host,
                    "pid": pid,
                    "service_name": None,
                    "dropped": 0,
                    "live_runs": 0,
                    "first_ns": now,
                },
            )
            entry["dropped"] += count
            entry["live_runs"] += live_runs
            entry["last_ns"] = now
            entry["service_name"] = service_name or entry["service_name"]

    def dropped_spans(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = [dict(e) for e in self._dropped.values()]
        return dropped_entries(entries)

    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, *, label: str | None = None
    ) -> dict[str, Any]:
        score = check_score(score)
        with self._lock:
            full = self._prefix(run_id, self._runs, "run")
            created_ns = time.time_ns()
            entry = {
                "run_id": full,
                "score": score,
                "label": label,
                "comment": comment,
                "created_ns": created_ns,
            }
            self._feedback.append(entry)
            self._runs[full].feedback = score
        return feedback_entry(full, score, label, comment, created_ns)

    def prune(
        self,
        older_than: datetime | timedelta,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        cutoff = cutoff_ns(older_than)
        with self._lock:
            old = {
                run_id
                for run_id, run in self._runs.items()
                if run.start_ns is not None and run.start_ns < cutoff
            }
            if dry_run:
                return len(old)
            for run_id in old:
                del self._runs[run_id]
                for key in self._by_run.pop(run_id, set()):
                    self._spans.pop(key, None)
                    members = self._by_trace.get(key[0])
                    if members is not None:
                        members.discard(key)
                        if not members:
                            del self._by_trace[key[0]]
            self._feedback = [f for f in self._feedback if f["run_id"] not in old]
        if progress is not None:
            progress(len(old))
        return len(old)

    def close(self) -> None:
        return None
