"""What ``Store.doctor`` compares: a stored run against the run its stored spans add up to.

Runs are recomputed from their spans by the same pure functions ingest uses
(``agentel.store.ingest.plan_ingest``), so a run that disagrees was left behind by an
interrupted write (a writer killed between its spans and its run), an interrupted prune, or
a bug. Each problem is a plain dict:

- ``{"problem": "rollup", "run_id", "fields": {name: {"stored": x, "spans": y}}}``: the run
  record disagrees with its spans on these fields;
- ``{"problem": "span_flags", "run_id", "spans": n}``: n spans of the run have a stale
  ``counted`` flag or merged usage (a call would be counted twice or not at all);
- ``{"problem": "missing_run", "run_id", "spans": n}``: spans of a run with no run record,
  so ``runs()`` never lists it;
- ``{"problem": "empty_run", "run_id"}``: a run record with no span left;
- ``{"problem": "no_run_id", "trace_id", "spans": n}``: spans that belong to no run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from agentel.store.ingest import IngestPlan
from agentel.store.liveness import ABANDONED, RUNNING
from agentel.store.records import RUN_COLUMNS, RunRecord, SpanRecord

COMPARED = tuple(c for c in RUN_COLUMNS if c not in ("run_id", "feedback"))
"""Every run field that derives from spans (feedback is the user's, not the spans')."""

_LIVE = {RUNNING, ABANDONED}
"""A run whose top span has not ended is running or abandoned: which one is a judgement of
its process's liveness, made when a store opens or ingests, not a fact of the spans."""


def differences(stored: RunRecord, expected: RunRecord) -> dict[str, dict[str, Any]]:
    """The fields on which a stored run disagrees with the run its spans add up to."""
    found: dict[str, dict[str, Any]] = {}
    for name in COMPARED:
        held, want = getattr(stored, name), getattr(expected, name)
        if name == "status" and held in _LIVE and want in _LIVE:
            continue
        if isinstance(held, float) and isinstance(want, float):
            if math.isclose(held, want, rel_tol=1e-9, abs_tol=1e-12):
                continue
        elif held == want:
            continue
        found[name] = {"stored": held, "spans": want}
    return found


def run_problems(
    run_ids: Sequence[str],
    spans: Sequence[SpanRecord],
    held: dict[str, RunRecord],
    plan: IngestPlan,
) -> list[dict[str, Any]]:
    """The problems of ``run_ids``, given their stored ``spans`` and run records (``held``),
    and ``plan``, the recomputation of those runs from those spans."""
    span_count = Counter(s.run_id for s in spans)
    stale = Counter(run_id for _, _, run_id, _ in plan.updates)
    stale.update(s.run_id for s in plan.merged)
    expected = {r.run_id: r for r in plan.runs}
    problems: list[dict[str, Any]] = []
    for run_id in run_ids:
        run, want = held.get(run_id), expected.get(run_id)
        if run is None and want is not None:
            problems.append(
                {"problem": "missing_run", "run_id": run_id, "spans": span_count[run_id]}
            )
        elif run is not None and want is None:
            problems.append({"problem": "empty_run", "run_id": run_id})
        elif run is not None and want is not None:
            fields = differences(run, want)
            if fields:
                problems.append({"problem": "rollup", "run_id": run_id, "fields": fields})
        if stale[run_id]:
            problems.append({"problem": "span_flags", "run_id": run_id, "spans": stale[run_id]})
    return problems
