"""The store-writing SpanExporter that the SQLite and MongoDB exporters specialise."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentel.exporters._convert import record_from_span
from agentel.semconv.attributes import ENV_STORE
from agentel.store import SpanRecord, Store, default_store_url, open_store
from agentel.store.base import redact_url

logger = logging.getLogger("agentel.exporters")


class StoreSpanExporter(SpanExporter):
    """Write finished spans into an agentel store; never raises into the caller.

    The store is opened lazily on the first export, so a bad location costs the application
    nothing at start-up; failures are counted, logged once, and reported as FAILURE.
    """

    scheme = ""
    default_url = ""

    def __init__(self, store: str | Store | None = None) -> None:
        if isinstance(store, Store):
            self._store: Store | None = store
            self.url = store.url
        else:
            self._store = None
            self.url = store or self._env_url()
        self._check_url(self.url)
        self._lock = threading.Lock()
        self._shutdown = False
        self.exported_spans = 0
        self.failed_spans = 0
        self._logged_failure = False

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

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            records = [record_from_span(span) for span in spans]
        except Exception as exc:
            self._failed(len(spans), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if self.write(records) else SpanExportResult.FAILURE

    def write(self, records: Sequence[SpanRecord]) -> bool:
        """Ingest store records (also used by the live-run processor); False when it failed."""
        if self._shutdown:
            return False
        try:
            store = self.store
            with self._lock:
                store.ingest(records)
        except Exception as exc:  # never raise into the SDK's worker thread
            self._failed(len(records), exc)
            return False
        self.exported_spans += len(records)
        return True

    def _failed(self, count: int, exc: Exception) -> None:
        self.failed_spans += count
        if not self._logged_failure:
            self._logged_failure = True
            logger.error(
                "agentel: could not write %d span(s) to %s: %s: %s "
                "(further failures are counted in failed_spans, not logged)",
                count,
                redact_url(self.url),
                type(exc).__name__,
                exc,
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        with self._lock:
            if self._store is not None:
                try:
                    self._store.close()
                except Exception:
                    logger.debug("agentel: closing %s failed", self.url, exc_info=True)
