"""The store-writing SpanExporter that the SQLite and MongoDB exporters specialise.

Delivery is at-least-once within bounds. A batch the store refuses with a transient error
(MongoDB unreachable, SQLite locked, disk full, read-only file) is kept in a bounded buffer
and retried with exponential backoff by one background thread (``_retry.RetryBuffer``), so neither the application
nor the SDK's batch worker ever waits on an outage: while the store is out, ``export`` only
appends to the buffer. Spans past the buffer's size or age bound are dropped, counted in
``failed_spans`` and the ``agentel.exporter.dropped_spans`` metric, logged once, and recorded
on the store (``Store.dropped_spans``) with the next write that succeeds, as are the spans the
batch processor could not queue (``count_dropped``). Every store call runs under
``suppress_instrumentation``: agentel never traces its own writes. Ingest
is idempotent, so a batch written twice around a failure is stored once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Sequence

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel.exporters import _roots
from agentel.exporters._convert import record_from_span
from agentel.exporters._privacy import content_capture_from_env, redact_exceptions
from agentel.exporters._retry import RetryBuffer
from agentel.semconv.attributes import ENV_STORE, METRIC_AGENTEL_EXPORTER_DROPPED_SPANS
from agentel.store import SpanRecord, Store, StoreError, default_store_url, open_store
from agentel.store.base import redact_url

logger = logging.getLogger("agentel.exporters")

DEFAULT_MAX_BUFFERED_SPANS = 10_000
DEFAULT_MAX_RETRY_SECONDS = 300.0
DEFAULT_SHUTDOWN_MILLIS = 5_000

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
        self.service_name: str | None = None
        self.capture_content = content_capture_from_env()
        """When False (the default), exception messages are stored redacted (``_privacy``)."""
        self._unrecorded_drops = 0
        self.dropped_live_runs = 0
        """Running records of runs the live-run queue could not hold (see ``_roots``)."""
        self._unrecorded_live = 0
        self._shutdown = False
        self._logged_drop = False
        self._dropped_counter = get_meter(
            "agentel.exporters", meter_provider=meter_provider
        ).create_counter(
            METRIC_AGENTEL_EXPORTER_DROPPED_SPANS,
            unit="{span}",
            description="Spans a store exporter gave up on.",
        )
        self._retry = RetryBuffer(
            name=redact_url(self.url),
            max_spans=max_buffered_spans,
            max_seconds=max_retry_seconds,
            deliver=self._ingest,
            retryable=self._retryable,
            salvage=self._salvage,
            drop=self._drop,
        )
        self._init_threading()
        weak = weakref.WeakMethod(self._init_threading)
        if hasattr(os, "register_at_fork"):  # not on Windows
            os.register_at_fork(after_in_child=lambda: (m := weak()) is not None and m(forked=True))

    def _init_threading(self, forked: bool = False) -> None:
        """Write lock, retry buffer and retry thread; a forked child starts over with its own."""
        self._lock = threading.Lock()  # one store write at a time
        self._count_lock = threading.Lock()  # failed_spans and the drops not yet recorded
        self._retry.reset()
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
            with self._lock, suppress_instrumentation():
                if self._store is None:
                    self._store = self._open()
        return self._store

    @property
    def buffered_spans(self) -> int:
        """Spans waiting in the retry buffer for the store to come back."""
        return self._retry.spans

    def _retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the store is unavailable now, rather than refusing the data."""
        return isinstance(exc, (StoreError, sqlite3.OperationalError, OSError))

    # --- export -----------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            self._drop(len(spans), "the exporter is shut down")
            return SpanExportResult.FAILURE
        if self.service_name is None and spans:  # zero-code: the drops' service, as configure()
            self.service_name = spans[0].resource.attributes.get("service.name")  # type: ignore[assignment]
        records = []
        for span in spans:
            try:
                if not self.capture_content:
                    span = redact_exceptions(span)
                records.append(record_from_span(span))
            except Exception as exc:  # one bad span never costs the rest of its batch
                self._drop(1, f"span {getattr(span, 'name', '?')!r} could not be converted", exc)
        if not records:
            return SpanExportResult.FAILURE if spans else SpanExportResult.SUCCESS
        converted = len(records)
        if _roots.pending():  # runs whose running record the live-run queue has not written
            records += _roots.take({r.run_id for r in records if r.run_id})
        ok = self.write(records) and converted == len(spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def write(self, records: Sequence[SpanRecord]) -> bool:
        """Ingest store records (also used by the live-run processor).

        True when they were stored or queued for retry, False when they were dropped.
        """
        records = list(records)
        if self._shutdown:
            self._drop(len(records), "the exporter is shut down")
            return False
        queued = self._retry.queue_if_waiting(records)
        if queued is not None:  # the retry thread owns delivery until the store answers
            return queued
        try:
            self._ingest(records)
        except Exception as exc:  # never raise into the SDK's worker thread
            if not self._retryable(exc):
                return self._salvage(records, exc)
            return self._retry.hold(records, exc)
        return True

    def _ingest(self, records: list[SpanRecord]) -> None:
        """Write a batch; like every store call of ours, with instrumentation suppressed, so
        a pymongo, sqlite3 or HTTP instrumentation never records agentel's own writes."""
        store = self.store
        with self._lock, suppress_instrumentation():
            store.ingest(records)
            self._record_drops(store)
        self.exported_spans += len(records)

    def _record_drops(self, store: Store) -> None:
        """Put the drops counted since the last write on the store (under ``self._lock``)."""
        with self._count_lock:
            count, self._unrecorded_drops = self._unrecorded_drops, 0
            live, self._unrecorded_live = self._unrecorded_live, 0
        if not count and not live:
            return
        try:
            with suppress_instrumentation():
                store.record_dropped_spans(
                    count,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    service_name=self.service_name,
                    live_runs=live,
                )
        except Exception:
            logger.debug("agentel: recording %d dropped span(s) failed", count, exc_info=True)
            with self._count_lock:
                self._unrecorded_drops += count
                self._unrecorded_live += live

    def count_dropped(
        self, count: int, why: str = "the batch span processor's queue is full"
    ) -> None:
        """Count spans lost before they reached this exporter, like its own drops: in
        ``failed_spans``, the dropped-spans metric, one log line, and on the store with the
        next write."""
        self._drop(count, why)

    def count_dropped_live_runs(self, count: int) -> None:
        """Count running records the live-run queue could not hold: in ``dropped_live_runs``
        and on the store with the next write. Not a loss of spans (each such run's record is
        written with its first spans), so it logs once at INFO only."""
        with self._count_lock:
            self.dropped_live_runs += count
            self._unrecorded_live += count
        if self.dropped_live_runs == count:
            logger.info(
                "agentel: the live-run queue is full; running records of new runs are written "
                "with their first spans instead (counted on the store)"
            )

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

    # --- dropping ----------------------------------------------------------------------------
    def _drop(self, count: int, why: str, exc: BaseException | None = None) -> None:
        if count <= 0:
            return
        with self._count_lock:
            self.failed_spans += count
            self._unrecorded_drops += count
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
        """Retry buffered spans now; True when none is left waiting (within the timeout).

        Drops counted since the last write are then recorded on the store.
        """
        deadline = time.monotonic() + timeout_millis / 1000
        done = self._retry.flush(deadline)
        if (
            done
            and (self._unrecorded_drops or self._unrecorded_live)
            and self._store is not None
            and self._lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        ):
            try:
                self._record_drops(self._store)
            finally:
                self._lock.release()
        return done

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
        self._retry.flush(deadline)
        self._shutdown = True
        left = self._retry.clear()
        self._drop(
            left, "the exporter shut down before the store came back", self._retry.last_error
        )
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            if self._store is not None:
                if not left:  # the store answers: put the drops counted since the last write
                    self._record_drops(self._store)
                with suppress_instrumentation():
                    self._store.close()
        except Exception:
            logger.debug("agentel: closing %s failed", redact_url(self.url), exc_info=True)
        finally:
            self._lock.release()
