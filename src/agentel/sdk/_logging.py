"""Keep the SDK's per-span "Queue full" warnings from costing the application time.

When an exporter stalls (a collector that never answers), every further span a
BatchSpanProcessor drops logs a warning; writing one log line per span slowed an agent
by ~8% in benchmarks/otlp_slow_collector.py. This filter lets the first warning through,
then one per interval with the number suppressed in between.
"""

from __future__ import annotations

import logging
import threading
import time

SDK_QUEUE_LOGGER = "opentelemetry.sdk._shared_internal"


class QueueFullFilter(logging.Filter):
    """Rate-limit "Queue full, dropping ..." records to one per ``interval`` seconds."""

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Queue full"):
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.interval:
                self._suppressed += 1
                return False
            if self._suppressed:
                record.msg = f"{record.msg} ({self._suppressed} more drops not logged)"
                self._suppressed = 0
            self._last = now
        return True


def install_queue_full_filter() -> None:
    """Attach one QueueFullFilter to the SDK's batch-processor logger (idempotent)."""
    logger = logging.getLogger(SDK_QUEUE_LOGGER)
    if not any(isinstance(f, QueueFullFilter) for f in logger.filters):
        logger.addFilter(QueueFullFilter())
