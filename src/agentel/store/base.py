"""The contract every store backend implements.

``Store.ingest`` is a template method: it reads what it needs through three small backend
primitives (``_unstamped_traces``, ``_load``, ``_apply``), decides run membership, the
``counted`` flags and the run rollups in plain Python (``agentel.store.ingest``), and writes
the result in one call. So memory, SQLite and MongoDB give identical answers for the same
spans, whatever their arrival order, batching or re-delivery.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from agentel.store.diff import diff_runs
from agentel.store.doctor import run_problems
from agentel.store.errors import NotFoundError, QueryError, StoreError, redact_url
from agentel.store.ingest import MAX_CONFLICT_RETRIES, IngestPlan, dedupe, nest, plan_ingest
from agentel.store.liveness import process_alive, stale_cutoff_ns, this_host
from agentel.store.query import (
    RunFilter,
    SpanFilter,
    build_replay,
    check_fields,
    check_replay_types,
    check_stats_by,
    fold,
    order_stats,
    parse_time,
    run_filter,
    select_replay,
    span_filter,
    span_has_text,
    stored_patterns,
)
from agentel.store.records import RunRecord, SpanRecord, iso_time

ORDER_BY = ("start", "cost", "duration", "tokens")


def feedback_entry(
    run_id: str, score: float, label: str | None, comment: str | None, created_ns: int
) -> dict[str, Any]:
    """The feedback entry every backend's ``add_feedback`` returns."""
    return {
        "run_id": run_id,
        "score": score,
        "label": label,
        "comment": comment,
        "created_at": iso_time(created_ns),
    }


def dropped_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``dropped_spans()`` rows, the same on every backend: times as ISO, most drops first."""
    rows = [
        {
            "host": e["host"],
            "pid": int(e["pid"]),
            "service_name": e.get("service_name"),
            "dropped": int(e["dropped"]),
            "live_runs": int(e.get("live_runs") or 0),
            "first_at": iso_time(e["first_ns"]),
            "last_at": iso_time(e["last_ns"]),
        }
        for e in entries
    ]
    return sorted(rows, key=lambda r: (-r["dropped"], r["host"], r["pid"]))


def cutoff_ns(older_than: datetime | timedelta) -> int:
    """Nanoseconds since the epoch of a prune cut-off: an absolute time or an age from now."""
    if isinstance(older_than, timedelta):
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative; got {older_than!r}")
        older_than = datetime.now(timezone.utc) - older_than
    if not isinstance(older_than, datetime):
        raise TypeError(f"older_than must be a datetime or timedelta; got {older_than!r}")
    if older_than.tzinfo is None:
        older_than = older_than.replace(tzinfo=timezone.utc)
    return int(older_than.timestamp() * 1e9)


def check_score(score: float) -> float:
    """Feedback scores are finite numbers; anything else is rejected with its value."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise ValueError(f"feedback score must be a finite number; got {score!r}")
    return float(score)


class Store(ABC):
    """A run and trace store. Query methods return plain dicts with the record model's field names (docs/architecture.md)."""

    url: str

    # --- ingest: the shared algorithm -------------------------------------------------------
    def ingest(self, records: Sequence[SpanRecord]) -> None:
        """Store spans idempotently per (trace_id, span_id) and recompute the touched runs.

        Sets the derived ``run_id`` (of unstamped spans) and ``counted`` on the records given.
        """
        batch = dedupe(records)
        if not batch:
            return
        with self._writing():
            conflicts = self._apply(self._plan(batch))
            for _ in range(MAX_CONFLICT_RETRIES):
                if not conflicts:
                    return
                conflicts = self._apply(self._plan([], conflicts))
        raise StoreError(
            f"runs {sorted(conflicts)} in {self.url} kept changing under concurrent writers"
        )

    def _recompute(
        self, run_ids: Iterable[str], trace_ids: Iterable[str] = (), chunk: int = 500
    ) -> None:
        """Recompute runs from their stored spans, ``chunk`` runs at a time (a run id with no
        span left is deleted). The spans of ``trace_ids`` are first assigned to runs again,
        and their runs recomputed, as ingest does for spans that carry no run id."""
        traces = sorted(set(trace_ids))
        for start in range(0, len(traces), chunk):
            self._recompute_chunk(set(), set(traces[start : start + chunk]))
        ordered = sorted(set(run_ids))
        for start in range(0, len(ordered), chunk):
            self._recompute_chunk(set(ordered[start : start + chunk]), set())

    def _recompute_chunk(self, run_ids: set[str], trace_ids: set[str]) -> None:
        """Recompute ``run_ids`` and re-resolve ``trace_ids`` in one write, retrying the runs
        another writer changed meanwhile."""
        with self._writing():
            pending = self._apply(self._plan([], run_ids, trace_ids))
            for _ in range(MAX_CONFLICT_RETRIES):
                if not pending:
                    return
                pending = self._apply(self._plan([], pending))
        if pending:
            raise StoreError(
                f"runs {sorted(pending)} in {self.url} kept changing under concurrent writers"
            )

    def _plan(
        self,
        batch: Sequence[SpanRecord],
        runs: set[str] = frozenset(),  # type: ignore[assignment]
        traces: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> IngestPlan:
        """Plan a batch, recomputing ``runs`` too and re-resolving every span of ``traces``."""
        run_ids = {r.run_id for r in batch if r.run_id_stamped and r.run_id} | set(runs)
        batch_traces = {r.trace_id for r in batch}
        resolve = {r.trace_id for r in batch if not r.run_id_stamped} | set(traces)
        resolve |= self._unstamped_traces(batch_traces - resolve)
        stored, versions = self._load(run_ids, resolve)
        return plan_ingest(batch, stored, resolve, set(runs), versions)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Around one batch: a transaction or lock where the backend has one."""
        yield

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Around reads that must see one state (``doctor``): a snapshot or lock where the
        backend has one."""
        yield

    @abstractmethod
    def _unstamped_traces(self, trace_ids: set[str]) -> set[str]:
        """Those of ``trace_ids`` that hold a stored span without a stamped run id."""

    @abstractmethod
    def _load(
        self, run_ids: set[str], trace_ids: set[str]
    ) -> tuple[list[SpanRecord], dict[str, Any]]:
        """Stored spans in ``run_ids`` or ``trace_ids`` (rollup fields; payload may be empty,
        but a run's top span keeps its resource), and a version token per run seen."""

    @abstractmethod
    def _apply(self, plan: IngestPlan) -> set[str]:
        """Write a plan; returns the runs another writer changed meanwhile (to recompute)."""

    # --- consistency ---------------------------------------------------------------------------
    def doctor(self, *, repair: bool = False) -> dict[str, Any]:
        """Check that every stored run agrees with its stored spans; ``repair`` fixes what
        does not by recomputing those runs from their spans.

        Checked: each run record against the run its spans add up to (LLM and tool calls,
        errors, tokens, cost, status, times, span count: every field but feedback), the
        spans' ``counted`` flags, spans whose run has no record, run records with no span,
        and spans with no run. Returns::

            {"store": url, "runs": checked, "spans": checked,
             "problems": [...],    # found (agentel.store.doctor lists the kinds)
             "repaired": bool,     # whether a repair was made
             "remaining": [...],   # problems after the repair (== problems without one)
             "dropped": [...]}     # dropped_spans(): spans lost before the store

        A problem found is looked at again before it is reported, so a writer caught between
        its spans and its run is not taken for damage. Drops are reported, not problems:
        spans lost before the store cannot be repaired from it.
        """
        problems, runs, spans = self._check()
        remaining = problems
        if repair and problems:
            self._recompute(
                {p["run_id"] for p in problems if "run_id" in p},
                {p["trace_id"] for p in problems if p["problem"] == "no_run_id"},
            )
            remaining, runs, spans = self._check()
        return {
            "store": redact_url(self.url),
            "runs": runs,
            "spans": spans,
            "problems": problems,
            "repaired": bool(repair and problems),
            "remaining": remaining,
            "dropped": self.dropped_spans(),
        }

    def _check(self, chunk: int = 500) -> tuple[list[dict[str, Any]], int, int]:
        """(problems, runs checked, spans checked) of the whole store, ``chunk`` runs at a time."""
        with self._reading():
            run_ids, per_run, unassigned = self._census()
        problems: list[dict[str, Any]] = [
            {"problem": "no_run_id", "trace_id": trace_id, "spans": count}
            for trace_id, count in sorted(unassigned.items())
        ]
        ordered = sorted(run_ids | per_run.keys())
        for start in range(0, len(ordered), chunk):
            found = self._check_runs(ordered[start : start + chunk])
            if found:  # look again: a live writer may have been between its spans and its run
                found = self._check_runs(sorted({p["run_id"] for p in found}))
            problems += found
        return problems, len(ordered), sum(per_run.values()) + sum(unassigned.values())

    def _check_runs(self, run_ids: list[str]) -> list[dict[str, Any]]:
        wanted = set(run_ids)
        with self._reading():
            stored, versions = self._load(wanted, set())
            held = {r.run_id: r for r in self._find_runs(RunFilter(), wanted, None, 0, "start")}
        plan = plan_ingest([], stored, set(), wanted, versions)
        return run_problems(run_ids, stored, held, plan)

    @abstractmethod
    def _census(self) -> tuple[set[str], dict[str, int], dict[str, int]]:
        """The ids of all run records, the number of spans per run id, and the number of
        spans without a run id per trace id."""

    # --- abandoned runs -----------------------------------------------------------------------
    def mark_abandoned(self) -> list[str]:
        """Persist ``abandoned`` for running runs of this host whose process is gone, and for
        running runs of any host whose newest span is older than ``AGENTEL_ABANDON_AFTER``.

        SQLite and MongoDB stores do it when opened, and every ingest settles the runs it
        recomputes, so readers see crashed runs as abandoned; a long-lived store object
        calls this to look again. Returns the run ids marked.
        """
        gone = [
            run_id
            for run_id, pid, start_ns in self._running_on(this_host())
            if pid is not None and not process_alive(pid, start_ns)
        ]
        known = set(gone)
        gone += [r for r in self._silent_since(stale_cutoff_ns()) if r not in known]
        if gone:
            self._set_abandoned(gone)
        return gone

    @abstractmethod
    def _running_on(self, host: str) -> list[tuple[str, int | None, int | None]]:
        """(run_id, pid, start_ns) of the runs with status ``running`` recorded on ``host``."""

    @abstractmethod
    def _silent_since(self, cutoff_ns: int) -> list[str]:
        """Ids of the ``running`` runs (any host) with no span starting or ending at or after
        ``cutoff_ns``."""

    @abstractmethod
    def _set_abandoned(self, run_ids: list[str]) -> None:
        """Set status ``abandoned`` on those of ``run_ids`` that are still ``running``."""

    # --- queries ----------------------------------------------------------------------------
    def runs(
        self,
        *,
        agent: str | None = None,
        status: str | None = None,
        since: datetime | date | timedelta | str | None = None,
        until: datetime | date | timedelta | str | None = None,
        model: str | None = None,
        provider: str | None = None,
        tool: str | None = None,
        conversation: str | None = None,
        user: str | None = None,
        service: str | None = None,
        min_cost: float | None = None,
        min_duration: float | timedelta | str | None = None,
        has_error: bool | None = None,
        text: str | None = None,
        where: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
        order_by: str = "start",
    ) -> list[dict[str, Any]]:
        """Runs matching every given filter, newest first (or by ``order_by`` descending,
        ties by run_id), as run dicts.

        ``since`` / ``until`` bound the start time (``since`` inclusive, ``until`` exclusive):
        a datetime (naive = UTC), an ISO date/time string or an age such as ``"2h"`` / ``"7d"``.
        ``model`` / ``provider``: a counted LLM call of the run used it. ``tool``: a span of the
        run called the tool of that name (``gen_ai.tool.name``). ``conversation``,
        ``user``, ``service``: exact ids/names. ``min_cost`` in USD; ``min_duration`` in ms, a
        timedelta or ``"2s"`` (unfinished runs never match). ``has_error``: the run has (True)
        or has no (False) failed span. ``text``: a substring of the captured content (prompts,
        completions, tool arguments and results) of one of the run's spans; ASCII letters
        match case-insensitively. ``where``: a filter expression (``agentel.store.where``).
        ``limit`` None (or negative) means all. Bad values raise ``QueryError`` /
        ``WhereError`` (both ``ValueError``) naming the value.
        """
        found = run_filter(
            agent=agent,
            status=status,
            since=since,
            until=until,
            model=model,
            provider=provider,
            tool=tool,
            conversation=conversation,
            user=user,
            service=service,
            min_cost=min_cost,
            min_duration=min_duration,
            has_error=has_error,
            text=text,
            where=where,
        )
        check_order_by(order_by)
        limit, offset = check_page(limit, offset)
        if limit == 0:
            return []
        run_ids = None
        if found.text is not None:
            run_ids = self._text_runs(found.text)
            if not run_ids:
                return []
        return [r.to_dict() for r in self._find_runs(found, run_ids, limit, offset, order_by)]

    def _text_runs(self, text: str) -> set[str]:
        """Ids of the runs with a span whose captured content contains ``text``."""
        needle = fold(text)
        return {
            run_id
            for run_id, attributes, events in self._content_candidates(stored_patterns(needle))
            if run_id and span_has_text(attributes, events, needle)
        }

    @abstractmethod
    def _content_candidates(
        self, patterns: list[str]
    ) -> Iterable[tuple[str | None, dict[str, Any], list[dict[str, Any]]]]:
        """(run_id, attributes, events) of every span whose stored attributes or events JSON
        contains one of ``patterns`` (ASCII case-insensitively); a superset is fine."""

    @abstractmethod
    def _find_runs(
        self,
        found: RunFilter,
        run_ids: set[str] | None,
        limit: int | None,
        offset: int,
        order_by: str,
    ) -> list[RunRecord]:
        """One page of the runs matching ``found`` (and among ``run_ids`` unless None)."""

    @abstractmethod
    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id or unique id prefix; raises NotFoundError / AmbiguousIdError."""

    def spans(
        self,
        *,
        trace_id: str | None = None,
        run_id: str | None = None,
        category: str | None = None,
        operation: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        status: str | None = None,
        since: datetime | date | timedelta | str | None = None,
        until: datetime | date | timedelta | str | None = None,
        limit: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Flat span dicts matching every given filter, ordered by start time (ties by span_id,
        then trace_id). ``since`` / ``until`` bound the span start as in :meth:`runs`.

        ``fields``: only these keys of each dict (names from ``SPAN_FIELDS``, in the order
        given), and only what they need is read: a timeline of a 10,000-span run without its
        attributes and events costs a fraction of the whole spans. :meth:`span` then gives one
        span in full.
        """
        limit, _ = check_page(limit, 0)
        wanted = check_fields(fields)
        found = span_filter(
            trace_id=trace_id,
            run_id=run_id,
            category=category,
            operation=operation,
            tool=tool,
            model=model,
            status=status,
            since=since,
            until=until,
        )
        if wanted is not None:
            return list(itertools.islice(self._span_fields(found, wanted), limit))
        return [s.to_dict() for s in itertools.islice(self._iter_spans(found), limit)]

    def _span_fields(self, found: SpanFilter, wanted: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """``wanted`` of each span dict matching ``found``, in ``span_order``; backends that
        can read only some columns do."""
        for record in self._iter_spans(found):
            whole = record.to_dict()
            yield {name: whole[name] for name in wanted}

    def span(self, trace_id: str, span_id: str) -> dict[str, Any]:
        """One span by its trace id and span id (whole ids), as :meth:`spans` gives it;
        raises NotFoundError when the store has no such span."""
        for value, what in ((trace_id, "trace_id"), (span_id, "span_id")):
            if not isinstance(value, str):
                raise QueryError(f"{what} must be a string; got {value!r}")
        record = self._span(trace_id, span_id)
        if record is None:
            raise NotFoundError(
                f"no span {span_id!r} in trace {trace_id!r} in {redact_url(self.url)}"
            )
        return record.to_dict()

    @abstractmethod
    def _span(self, trace_id: str, span_id: str) -> SpanRecord | None:
        """The stored span with these ids, or None."""

    def export(
        self,
        *,
        trace_id: str | None = None,
        run_id: str | None = None,
        category: str | None = None,
        operation: str | None = None,
        tool: str | None = None,
        model: str | None = None,
        status: str | None = None,
        since: datetime | date | timedelta | str | None = None,
        until: datetime | date | timedelta | str | None = None,
    ) -> Iterator[SpanRecord]:
        """Full span records (resource, scope and links included) in :meth:`spans` order,
        read in pages so a whole store can be streamed. ``record.to_dict()`` is the JSON
        shape; ``agentel.store.otlp_json.encode(records)`` makes OTLP/JSON of them."""
        return self._iter_spans(
            span_filter(
                trace_id=trace_id,
                run_id=run_id,
                category=category,
                operation=operation,
                tool=tool,
                model=model,
                status=status,
                since=since,
                until=until,
            )
        )

    @abstractmethod
    def _iter_spans(self, found: SpanFilter) -> Iterator[SpanRecord]:
        """Span records matching ``found`` in ``span_order``, fetched lazily in pages."""

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of a trace, nested under ``children`` (a list of roots)."""
        return nest(self.spans(trace_id=self.resolve_trace_id(trace_id)))

    def run_tree(self, run_id: str) -> list[dict[str, Any]]:
        """The spans of one run, nested under ``children``."""
        return nest(self.spans(run_id=self.run(run_id)["run_id"]))

    def replay(
        self,
        run_id: str,
        types: Iterable[str] | None = None,
        since: datetime | date | timedelta | str | None = None,
        until: datetime | date | timedelta | str | None = None,
    ) -> list[dict[str, Any]]:
        """The run as an ordered timeline of ``{type, time, span_id, data}`` entries.

        Types (``agentel.store.query.REPLAY_TYPES``): run_started, user_message,
        llm_request, llm_response (tokens, cost, TTFT), tool_called, tool_result, plan,
        state_updated, error, custom, run_finished. ``types`` keeps only those; ``since`` /
        ``until`` bound the entry time. Captured content (messages, tool arguments and
        results) appears only when it was recorded.
        """
        chosen = check_replay_types(types)
        since_ns, until_ns = parse_time(since, "since"), parse_time(until, "until")
        run = self.run(run_id)
        records = list(self._iter_spans(SpanFilter(run_id=run["run_id"])))
        return select_replay(build_replay(run, records), chosen, since_ns, until_ns)

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """Compare two runs (ids or unique prefixes) step by step; ``agentel diff`` and the web
        UI's compare page both show this. The shape is stable::

            {
              "run_a": {...run dict...}, "run_b": {...run dict...},
              "same": bool,      # behaviour identical: every step's status is "same"
              "content": bool,   # both runs captured content, so outputs were compared
              "steps": [{
                "index": 1,      # 1-based position in the alignment
                "status": "same" | "changed" | "removed" | "added",  # removed: only in a
                "a": step | None, "b": step | None,
                "differences": [{"field": "arguments", "a": ..., "b": ...}],  # behaviour
                "deltas": {"input_tokens": b - a, ..., "cost_usd", "duration_ms"},
              }],
              "totals": {"duration_ms" | "llm_calls" | "tool_calls" | "errors" | <tokens>
                         | "cost_usd": {"a": ..., "b": ..., "delta": b - a}},
            }

        A step: ``kind`` ("llm" or "tool"), ``span_id``, ``name``, ``tool_name``, ``status``
        ("ok" or "error"), ``model``, ``provider``, the token fields, ``cost_usd``,
        ``duration_ms``, ``tool_calls`` (llm: ``[{"name", "arguments"}]`` the model asked
        for), ``arguments`` (tool) and ``output`` (llm text, or the tool result). Behaviour
        fields: llm status / tool_calls / output; tool tool_name / status / arguments /
        output. Tokens, cost, model and latency never make a step "changed". Deltas are None
        where either side is unknown. See :mod:`agentel.store.diff`.
        """
        first, second = self.run(run_a), self.run(run_b)
        return diff_runs(
            first,
            self._iter_spans(SpanFilter(run_id=first["run_id"])),
            second,
            self._iter_spans(SpanFilter(run_id=second["run_id"])),
        )

    def stats(
        self,
        by: str = "model",
        since: datetime | date | timedelta | str | None = None,
        until: datetime | date | timedelta | str | None = None,
    ) -> list[dict[str, Any]]:
        """Per group: count, errors, error_rate, tokens by type, cost_usd, unpriced_calls and
        the nearest-rank p50_ms / p95_ms of the durations.

        ``model`` and ``provider`` group the LLM/embedding spans whose usage counts towards
        runs (``counted``: no double counting), ``tool`` groups tool spans; for these
        ``since`` / ``until`` bound the span start. ``agent``, ``day`` and ``hour`` (UTC, of
        the run start) group runs, bounded by the run start; an unfinished run counts but
        has no duration. Days and hours come in time order, other groups by cost, then count.
        """
        check_stats_by(by)
        since_ns, until_ns = parse_time(since, "since"), parse_time(until, "until")
        return order_stats(self._stats(by, since_ns, until_ns), by)

    @abstractmethod
    def _stats(self, by: str, since_ns: int | None, until_ns: int | None) -> list[dict[str, Any]]:
        """Unordered ``stats()`` rows (``query.summarize`` of facts, or the backend's own)."""

    @abstractmethod
    def resolve_trace_id(self, trace_id: str) -> str:
        """The full trace id for an id or unique prefix."""

    # --- spans lost before the store ---------------------------------------------------------
    @abstractmethod
    def record_dropped_spans(
        self,
        count: int,
        *,
        host: str,
        pid: int,
        service_name: str | None = None,
        live_runs: int = 0,
    ) -> None:
        """Add ``count`` to the spans process ``pid`` on ``host`` lost before they reached
        any store (a full batch queue, an outage longer than the retry buffer), so readers
        of this store learn that some runs are incomplete; ``live_runs`` counts the running
        records its live-run queue could not hold (those runs are judged from their spans)."""

    @abstractmethod
    def dropped_spans(self) -> list[dict[str, Any]]:
        """Per process that recorded drops: host, pid, service_name, dropped, live_runs,
        first_at, last_at; most drops first."""

    # --- feedback and retention -------------------------------------------------------------
    @abstractmethod
    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, *, label: str | None = None
    ) -> dict[str, Any]:
        """Record a score (with optional label and comment) for a run; the run's ``feedback``
        becomes the latest score.

        Returns the stored feedback entry: run_id, score, label, comment, created_at.
        """

    @abstractmethod
    def prune(
        self,
        older_than: datetime | timedelta,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete runs that started before ``older_than`` (a time, or an age from now), with
        their spans and feedback; returns how many runs were (``dry_run``: would be) deleted.

        Large prunes go in batches; ``progress(n)`` is called after each with the runs it
        deleted.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections; idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_order_by(order_by: str) -> str:
    """Validate an ``order_by`` value, naming the bad one."""
    if order_by not in ORDER_BY:
        raise QueryError(f"order_by must be one of {', '.join(ORDER_BY)}; got {order_by!r}")
    return order_by


def check_page(limit: int | None, offset: int) -> tuple[int | None, int]:
    """``limit`` (None or negative: no limit) and ``offset`` as ints; bad values are named."""
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise QueryError(f"{name} must be an integer; got {value!r}")
    if offset < 0:
        raise QueryError(f"offset must not be negative; got {offset!r}")
    return (None if limit is None or limit < 0 else limit), offset


def check_prefix(value: str, what: str) -> str:
    """Ids are lowercase hex; anything else cannot match and is rejected with its value."""
    cleaned = value.strip().lower()
    if not cleaned or any(c not in "0123456789abcdef" for c in cleaned):
        raise NotFoundError(f"{what} {value!r} is not a hex id or id prefix")
    return cleaned


def pick_prefix(value: str, prefix: str, ids: list[str], what: str, url: str) -> str:
    """The one id a prefix names among ``ids`` (up to 11 matches, sorted)."""
    from agentel.store.errors import AmbiguousIdError

    if prefix in ids:
        return prefix
    if not ids:
        raise NotFoundError(f"no {what} with id or prefix {value!r} in {url}")
    if len(ids) > 1:
        raise AmbiguousIdError(value, ids)
    return ids[0]


def run_sort_key(order_by: str) -> Any:
    """The value runs are ordered by (descending; None sorts last), shared by Python backends."""

    def key(run: RunRecord) -> float | None:
        if order_by == "start":
            return run.start_ns
        if order_by == "cost":
            return run.cost_usd
        if order_by == "duration":
            if run.start_ns is None or run.end_ns is None:
                return None
            return run.end_ns - run.start_ns
        return run.input_tokens + run.output_tokens

    return key
