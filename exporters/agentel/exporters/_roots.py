"""Top spans of the runs started in this process whose ``running`` record is not written yet.

The live-run processor writes that record from a small queue, and drops it when the queue is
full (a burst of runs). So that such a run never shows without its top span (no pid, host or
agent name, and so no way to tell when its process is gone), the top span waits here until
the live-run thread has written its record; meanwhile a store exporter writing spans of that
run writes the record with them (``take``). A top span that has ended needs no record: its
finished span is on its way. Bounded; a forked child starts empty.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.trace import Span

from agentel.exporters._convert import live_record
from agentel.store.records import SpanRecord

MAX_OPEN_ROOTS = 16_384

_open: dict[str, tuple[Span, dict[str, Any], int | None]] = {}
_lock = threading.Lock()


def _reset() -> None:
    global _lock
    _lock = threading.Lock()
    _open.clear()  # the parent's runs are the parent's to record


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_reset)


def hold(run_id: str, span: Span, attributes: dict[str, Any], start_ns: int | None) -> None:
    """Keep a run's top span until its running record is written."""
    with _lock:
        if len(_open) >= MAX_OPEN_ROOTS:
            for key in [k for k, held in _open.items() if held[0].end_time is not None]:
                del _open[key]
            while len(_open) >= MAX_OPEN_ROOTS:
                del _open[next(iter(_open))]  # the oldest
        _open[run_id] = (span, attributes, start_ns)


def written(run_ids: Iterable[str]) -> None:
    """These runs' running records are written (or queued for retry)."""
    with _lock:
        for run_id in run_ids:
            _open.pop(run_id, None)


def pending() -> bool:
    """Whether any run's record is waiting (checked before looking at a batch's runs)."""
    return bool(_open)


def take(run_ids: Iterable[str]) -> list[SpanRecord]:
    """The running records of those of ``run_ids`` still waiting whose top span has not
    ended; they are no longer held."""
    with _lock:
        found = [held for run_id in run_ids if (held := _open.pop(run_id, None)) is not None]
    return [live_record(*held) for held in found if held[0].end_time is None]
