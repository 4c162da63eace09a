"""The store-writing SpanExporter that the SQLite and MongoDB exporters specialise.

Delivery is at-least-once within bounds. A batch the store refuses with a transient error
(MongoDB unreachable, SQLite locked, disk full, read-only file) is kept in a bounded buffer
and retried with exponential backoff by one background thread, so neither the application
nor the SDK's batch worker ever waits on an outage: while the store is out, ``export`` only
appends to the buffer. Spans past the buffer's size or age bound are dropped, counted in
``failed_spans`` and the ``agentel.exporter.dropped_spans`` metric, and logged once. Ingest
is idempotent, so a batch written twice around a failure is stored once.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence

from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel.exporters._convert import record_from_span
from agentel.semconv.attributes import ENV_STORE, METRIC_AGENTEL_EXPORTER_DROPPED_SPANS
from agentel.store import SpanRecord, Store, StoreError, default_store_url, open_store
from agentel.store.base import redact_url

logger = logging.getLogger("agentel.exporters")

DEFAULT_MAX_BUFFERED_SPANS = 10_000
DEFAULT_MAX_RETRY_SECONDS = 300.0
DEFAULT_SHUTDOWN_MILLIS = 5_000
INITIAL_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0

_INHERITED: list[Store] = []
"""Stores a forked child inherited from its parent: kept alive so that garbage collection
never closes (and so never touches) the parent's connections from the child."""


class StoreSpanExporter(SpanExporter):
    """Write finished spans into an agentel store; never raises into, or blocks, the caller.

    The store is opened lazily on the first export, so a bad location costs the application
    nothing at start-up. ``max_buffered_spans`` and ``max_retry_seconds`` bound what an
    outage may hold back (by count and by age); ``meter_provider`` receives the dropped-span
    counter (default: the global one); ``shutdown_timeout_millis`` caps how long shutdown
    waits for buffered spans. ``exported_spans``, ``failed_spans`` and ``buffered_spans`` say
    what happened so far.
    """

    scheme = ""
    default_url = ""

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        max_buffered_spans: int = DEFAULT_MAX_BUFFERED_SPANS,
        max_retry_seconds: float = DEFAULT_MAX_RETRY_SECONDS,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if isinstance(store, Store):
            self._store: Store | None = store
            self._owns_store = False
            self.url = store.url
        else:
            self._store = None
            self._owns_store = True
            self.url = store or self._env_url()
        self._check_url(self.url)
        if max_buffered_spans < 0 or not max_retry_seconds >= 0:
            raise ValueError(
                f"max_buffered_spans and max_retry_seconds must not be negative; got "
                f"{max_buffered_spans!r} and {max_retry_seconds!r}"
            )
        self.max_buffered_spans = max_buffered_spans
        self.max_retry_seconds = max_retry_seconds
        self.shutdown_timeout_millis = DEFAULT_SHUTDOWN_MILLIS
        self.exported_spans = 0
        self.failed_spans = 0
        self._shutdown = False
        self._logged_drop = False
        self._logged_outage = False
        self._dropped_counter = get_meter(
            "agentel.exporters", meter_provider=meter_provider
        ).create_counter(
            METRIC_AGENTEL_EXPORTER_DROPPED_SPANS,
            unit="{span}",
            description="Spans a store exporter gave up on.",
        )
        self._init_threading()
        weak = weakref.WeakMethod(self._init_threading)
        if hasattr(os, "register_at_fork"):  # not on Windows
            os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m(forked=True))

    def _init_threading(self, forked: bool = False) -> None:
        """Locks, buffer and retry thread; a forked child starts over with its own."""
        self._lock = threading.Lock()  # one store write at a time
        self._cond = threading.Condition(threading.Lock())  # guards everything below
        self._buffer: collections.deque[tuple[float, list[SpanRecord]]] = collections.deque()
        self._buffered = 0
        self._outage = False
        self._retry_now = False
        self._retry_thread: threading.Thread | None = None
        self._last_error: BaseException | None = None
        if forked and self._owns_store and self._store is not None:
            # never use, nor close, a parent's connection in the child: keep it referenced
            _INHERITED.append(self._store)
            self._store = None

    def _env_url(self) -> str:
        """``AGENTEL_STORE`` when set, else this exporter's default store."""
        url = os.environ.get(ENV_STORE)
        return url or self.default_url or default_store_url()

    def _check_url(self, url: str) -> None:
        if self.scheme and not url.startswith(self.scheme):
            raise ValueError(f"{type(self).__name__} needs a {self.scheme} store URL; got {url!r}")

    def _open(self) -> Store:
        return open_store(self.url)

    @property
    def store(self) -> Store:
        """The open store (opened on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open()
        return self._store

    @property
    def buffered_spans(self) -> int:
        """Spans waiting in the retry buffer for the store to come back."""
        return self._buffered

    def _retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the store is unavailable now, rather than refusing the data."""
        return isinstance(exc, (StoreError, sqlite3.OperationalError, OSError))

    # --- export -----------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            self._drop(len(spans), "the exporter is shut down")
            return SpanExportResult.FAILURE
        records = []
        for span in spans:
            try:
                records.append(record_from_span(span))
            except Exception as exc:  # one bad span never costs the rest of its batch
                self._drop(1, f"span {getattr(span, 'name', '?')!r} could not be converted", exc)
        if not records:
            return SpanExportResult.FAILURE if spans else SpanExportResult.SUCCESS
        ok = self.write(records) and len(records) == len(spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def write(self, records: Sequence[SpanRecord]) -> bool:
        """Ingest store records (also used by the live-run processor).

        True when they were stored or queued for retry, False when they were dropped.
        """
        records = list(records)
        if self._shutdown:
            self._drop(len(records), "the exporter is shut down")
            return False
        with self._cond:
            if self._outage:  # the retry thread owns delivery until the store answers
                return self._enqueue(records)
        try:
            self._ingest(records)
        except Exception as exc:  # never raise into the SDK's worker thread
            if not self._retryable(exc):
                return self._salvage(records, exc)
            with self._cond:
                self._begin_outage(exc)
                return self._enqueue(records)
        return True

    def _ingest(self, records: list[SpanRecord]) -> None:
        store = self.store
        with self._lock:
            store.ingest(records)
        self.exported_spans += len(records)

    def _salvage(self, records: list[SpanRecord], exc: BaseException) -> bool:
        """The store refused a batch for its content: store its spans one by one."""
        lost = records if len(records) == 1 else []
        if len(records) > 1:
            for record in records:
                try:
                    self._ingest([record])
                except Exception:
                    lost.append(record)
        if lost:
            ids = ", ".join(f"{r.trace_id}:{r.span_id}" for r in lost[:3])
            self._drop(len(lost), f"the store rejected span(s) {ids}", exc)
        return not lost

    # --- the retry buffer (all under self._cond) ---------------------------------------------
    def _begin_outage(self, exc: BaseException) -> None:
        self._outage = True
        self._last_error = exc
        if not self._logged_outage:
            self._logged_outage = True
            logger.warning(
                "agentel: %s is unavailable (%s: %s); buffering up to %d spans for up to %g s "
                "and retrying in the background",
                redact_url(self.url),
                type(exc).__name__,
                exc,
                self.max_buffered_spans,
                self.max_retry_seconds,
            )

    def _enqueue(self, records: list[SpanRecord]) -> bool:
        overflow = self._buffered + len(records) - self.max_buffered_spans
        dropped = 0
        while overflow > 0 and self._buffer:  # oldest first, like the SDK's queue
            _, old = self._buffer.popleft()
            self._buffered -= len(old)
            overflow -= len(old)
            dropped += len(old)
        if overflow > 0:
            dropped += overflow
            records = records[overflow:]
        if records:
            self._buffer.append((time.monotonic() + self.max_retry_seconds, records))
            self._buffered += len(records)
        if self._retry_thread is None or not self._retry_thread.is_alive():
            self._retry_thread = threading.Thread(
                target=self._retry_loop, name="agentel-store-retry", daemon=True
            )
            self._retry_thread.start()
        self._cond.notify_all()
        if dropped:
            self._drop(dropped, "the retry buffer is full", self._last_error)
        return bool(records)

    def _expire(self) -> None:
        now = time.monotonic()
        expired = 0
        while self._buffer and self._buffer[0][0] <= now:
            _, old = self._buffer.popleft()
            self._buffered -= len(old)
            expired += len(old)
        if expired:
            self._drop(
                expired,
                f"the store stayed unavailable for {self.max_retry_seconds:g} s",
                self._last_error,
            )

    def _retry_loop(self) -> None:
        backoff = INITIAL_BACKOFF_SECONDS
        while True:
            with self._cond:
                if not self._retry_now:
                    self._cond.wait(backoff * random.uniform(0.8, 1.2))
                self._retry_now = False
                self._expire()
                if not self._buffer:
                    self._outage = False
                    self._cond.notify_all()
                    return
            try:
                delivered = self._drain()
            except Exception:  # the loop must outlive anything a store throws at it
                logger.debug("agentel: retrying %s failed", redact_url(self.url), exc_info=True)
                delivered = False
            backoff = (
                INITIAL_BACKOFF_SECONDS if delivered else min(backoff * 2, MAX_BACKOFF_SECONDS)
            )

    def _drain(self) -> bool:
        """Write buffered batches oldest first; False when the store is still unavailable."""
        while True:
            with self._cond:
                if not self._buffer:
                    return True
                records = self._buffer[0][1]
            try:
                self._ingest(records)
            except Exception as exc:
                if self._retryable(exc):
                    with self._cond:
                        self._last_error = exc
                    return False
                self._salvage(records, exc)
            with self._cond:
                if self._buffer and self._buffer[0][1] is records:
                    self._buffer.popleft()
                    self._buffered -= len(records)
                self._cond.notify_all()
                if not self._buffer:
                    logger.info(
                        "agentel: %s is back; buffered spans delivered", redact_url(self.url)
                    )

    def _wait_for_buffer(self, deadline: float) -> bool:
        """Ask the retry thread to try now and wait (until ``deadline``) for an empty buffer."""
        with self._cond:
            self._retry_now = True
            self._cond.notify_all()
            while self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    # --- dropping ----------------------------------------------------------------------------
    def _drop(self, count: int, why: str, exc: BaseException | None = None) -> None:
        if count <= 0:
            return
        self.failed_spans += count
        with contextlib.suppress(Exception):
            self._dropped_counter.add(count)
        if not self._logged_drop:
            self._logged_drop = True
            detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
            logger.error(
                "agentel: dropped %d span(s) for %s: %s%s "
                "(further drops are counted in failed_spans and the %s metric, not logged)",
                count,
                redact_url(self.url),
                why,
                detail,
                METRIC_AGENTEL_EXPORTER_DROPPED_SPANS,
            )

    # --- flush and shutdown -----------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Retry buffered spans now; True when none is left waiting (within the timeout)."""
        return self._wait_for_buffer(time.monotonic() + timeout_millis / 1000)

    def shutdown(self, timeout_millis: int = DEFAULT_SHUTDOWN_MILLIS) -> None:
        """Give buffered spans one last chance, then close the store.

        Waits at most ``timeout_millis`` and never more than ``shutdown_timeout_millis``
        (the SDK's batch processor passes up to 30 s): a store write hung on the network
        keeps its connection, which the process exit then discards.
        """
        if self._shutdown:
            return
        limit = max(0, min(timeout_millis, self.shutdown_timeout_millis))
        deadline = time.monotonic() + limit / 1000
        self._wait_for_buffer(deadline)
        self._shutdown = True
        with self._cond:
            left = self._buffered
            self._buffer.clear()
            self._buffered = 0
            self._cond.notify_all()
        self._drop(left, "the exporter shut down before the store came back", self._last_error)
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            if self._store is not None:
                self._store.close()
        except Exception:
            logger.debug("agentel: closing %s failed", redact_url(self.url), exc_info=True)
        finally:
            self._lock.release()
