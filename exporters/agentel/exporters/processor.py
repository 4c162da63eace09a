"""Span processors: ``RunIdSpanProcessor`` stamps ``agentel.run.id`` on every span inside an
agent run at start; ``LiveRunSpanProcessor`` records a run as running when its top span starts."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agentel.exporters import _roots
from agentel.exporters._base import StoreSpanExporter
from agentel.exporters._convert import live_record
from agentel.semconv.attributes import (
    AGENTEL_ITERATION,
    AGENTEL_RERUN_OF,
    AGENTEL_RUN_ID,
    BAGGAGE_RUN_ID,
    CONTEXT_ITERATION_KEY,
    ENV_RERUN_OF,
    GEN_AI_OPERATION_NAME,
)
from agentel.semconv.normalize import RUN_OPERATIONS
from agentel.store.records import run_key, stamped_run_id

logger = logging.getLogger("agentel.exporters")


def _own_run_id(span: Span | ReadableSpan) -> str:
    """The id of the run that ``span`` would be the root of."""
    ctx = span.context
    return run_key(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))


class RunIdSpanProcessor(SpanProcessor):
    """Copy the run id from the parent span, or start a run at a top-most agent/workflow span.

    Reading the parent at start means spans of third-party instrumentations inside a run
    carry the run id too, so the store never has to walk ancestors for our own traces.
    When the parent lives in another process (a remote parent extracted from ``traceparent``),
    the run id comes from the ``agentel.run.id`` W3C baggage entry sent along with it, so a
    run spanning processes and services stays one run. Spans inside an ``iteration()`` pass
    get its index as ``agentel.iteration``. Spans outside any agent are left unstamped and
    resolved at ingest. In a process ``agentel rerun`` started, each run's top span also gets
    ``agentel.rerun.of``: the id of the recorded run it re-runs.
    """

    def __init__(self) -> None:
        rerun_of = os.environ.get(ENV_RERUN_OF, "").strip()
        self._rerun_of = rerun_of or None

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        own = span.attributes or {}
        iteration = otel_context.get_value(CONTEXT_ITERATION_KEY, parent_context)
        if isinstance(iteration, int) and AGENTEL_ITERATION not in own:
            span.set_attribute(AGENTEL_ITERATION, iteration)
        parent = trace.get_current_span(parent_context)
        attributes = getattr(parent, "attributes", None)
        run_id = attributes.get(AGENTEL_RUN_ID) if attributes else None
        if run_id is None and parent.get_span_context().is_remote:
            # baggage may come from anywhere: only a run of this very trace is joined
            entry = baggage.get_baggage(BAGGAGE_RUN_ID, parent_context)
            run_id = stamped_run_id(format(span.context.trace_id, "032x"), entry)
        if run_id is None:
            if own.get(GEN_AI_OPERATION_NAME) not in RUN_OPERATIONS:
                return
            run_id = _own_run_id(span)
            if self._rerun_of is not None:
                span.set_attribute(AGENTEL_RERUN_OF, self._rerun_of)
        span.set_attribute(AGENTEL_RUN_ID, run_id)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


_STOP = object()


class LiveRunSpanProcessor(SpanProcessor):
    """Record a run as ``running`` the moment its top span starts.

    A snapshot of the top span (no end time) is queued on ``on_start`` and written by a
    background thread through ``exporter``'s store, so a process that crashes mid-run leaves
    a visible, unfinished run naming its ``pid`` and ``host``. When the span ends, the
    exporter writes the finished span over it; an unfinished snapshot never replaces a
    finished span, whichever is written first. ``on_start`` only copies the attributes and
    enqueues (never blocks); when the small queue is full the snapshot is dropped, counted in
    ``dropped`` and, through the exporter, on the store. The top span is also held
    (``_roots``) until its snapshot is written, so a store exporter writing the run's first
    spans writes the snapshot with them: a dropped snapshot costs a run nothing but time.
    Add it after :class:`RunIdSpanProcessor`, whose stamp it reads.
    """

    def __init__(
        self,
        exporter: StoreSpanExporter,
        *,
        max_queue_size: int = 512,
        owns_exporter: bool = False,
    ) -> None:
        self.exporter = exporter
        self.dropped = 0
        self._owns_exporter = owns_exporter
        self._max_queue_size = max_queue_size
        self._stopped = False
        self._logged = False
        self._reset()
        weak = weakref.WeakMethod(self._reset)
        if hasattr(os, "register_at_fork"):  # not on Windows
            os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m())

    def _reset(self) -> None:
        """A new queue, lock and (lazily started) thread: at creation and in a forked child,
        which inherits neither the parent's thread nor a usable lock."""
        self._queue: queue.Queue[Any] = queue.Queue(self._max_queue_size)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        try:
            attributes = span.attributes
            ctx = span.context
            stamp = attributes.get(AGENTEL_RUN_ID) if attributes else None
            if not isinstance(stamp, str) or stamp != _own_run_id(span):
                return
            if self._stopped or not ctx.trace_flags.sampled:
                return
            self._ensure_thread()
            snapshot = (span, dict(attributes), span.start_time)
            _roots.hold(stamp, *snapshot)
            self._queue.put_nowait(snapshot)
        except queue.Full:
            self.dropped += 1
            self.exporter.count_dropped_live_runs(1)
        except Exception:
            if not self._logged:
                self._logged = True
                logger.warning("agentel: could not queue a live run record", exc_info=True)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                if self._pid != os.getpid():  # forked without the at-fork hook (never expected)
                    self._pid = os.getpid()
                    self._queue = queue.Queue(self._max_queue_size)
                self._thread = threading.Thread(
                    target=self._work, name="agentel-live-runs", daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        with suppress_instrumentation():  # our writes are not the application's
            self._loop()

    def _loop(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < 64:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            snapshots = [i for i in items if isinstance(i, tuple)]
            if snapshots:
                try:
                    if self.exporter.write([live_record(*s) for s in snapshots]):
                        _roots.written(_own_run_id(s[0]) for s in snapshots)
                except Exception:
                    if not self._logged:
                        self._logged = True
                        logger.warning("agentel: could not write live runs", exc_info=True)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
            if any(item is _STOP for item in items):
                return

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait (up to the timeout) until every queued snapshot is written."""
        if self._thread is None or not self._thread.is_alive():
            return True
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout_millis / 1000)
        except queue.Full:
            return False
        return done.wait(timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = 5_000) -> None:
        """Write what is queued and stop the thread, waiting at most ``timeout_millis``."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout_millis / 1000
        thread = self._thread
        if thread is not None and thread.is_alive():
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout_millis / 1000)
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._owns_exporter:
            self.exporter.shutdown(max(0, int((deadline - time.monotonic()) * 1000)))
