"""``feedback()``: score a run now, from inside it, or later from any other process."""

from __future__ import annotations

import math
from typing import Any

from opentelemetry import trace

from agentel.semconv import attributes as A
from agentel.store import Store, open_store


def feedback(
    run_id: str | None,
    score: float,
    *,
    label: str | None = None,
    comment: str | None = None,
    store: str | Store | None = None,
    name: str = "user_feedback",
) -> None:
    """Record ``score`` (and an optional ``label`` / ``comment``) for a run in the store.

    ``run_id`` is a run id or unique prefix; ``None`` means the run of the current span.
    ``store`` is a store URL or an open :class:`~agentel.store.Store` (default:
    ``AGENTEL_STORE`` or ``sqlite:///agentel.db``), so a reviewer's script or a web handler
    in another process can score a run long after it finished. Called inside a live span,
    it also adds a ``gen_ai.evaluation.result`` event to that span, so OTLP backends see it.
    Raises :class:`~agentel.store.NotFoundError` when the store has no such run yet (inside
    a live run, the buffered spans are flushed first so the run is there).
    """
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"feedback score must be a finite number; got {score!r}")
    span = trace.get_current_span()
    live_run = _run_id_of(span)
    if run_id is None:
        run_id = live_run
        if run_id is None:
            raise ValueError("feedback(run_id=None) needs a current span inside an agent run")
    if span.is_recording():
        span.add_event(
            A.EVENT_EVALUATION_RESULT,
            {
                k: v
                for k, v in {
                    A.GEN_AI_EVALUATION_NAME: name,
                    A.GEN_AI_EVALUATION_SCORE_VALUE: value,
                    A.GEN_AI_EVALUATION_SCORE_LABEL: label,
                    A.GEN_AI_EVALUATION_EXPLANATION: comment,
                    A.AGENTEL_RUN_ID: run_id,
                }.items()
                if v is not None
            },
        )
        if live_run is not None and live_run.startswith(run_id):
            _flush_provider()
    owned = not isinstance(store, Store)
    target = open_store(store) if owned else store  # type: ignore[arg-type]
    try:
        target.add_feedback(run_id, value, comment, label=label)
    finally:
        if owned:
            target.close()


def _run_id_of(span: trace.Span) -> str | None:
    attributes: Any = getattr(span, "attributes", None)
    run_id = attributes.get(A.AGENTEL_RUN_ID) if attributes else None
    return run_id if isinstance(run_id, str) else None


def _flush_provider() -> None:
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush(5_000)
