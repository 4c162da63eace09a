"""The SDK's ``BatchSpanProcessor``, with every span it cannot queue counted.

The SDK drops a span when its queue is full and says so in one log line; nothing counts it.
``CountingBatchSpanProcessor`` checks the queue before handing a span over and, when it is
full, reports the span to ``on_drop`` instead, so that stored + dropped = ended, exactly.
Once shut down (on purpose: its handle was shut down) it ignores spans, silently. Emitters take turns on a lock so the check and the
enqueue are one step; the SDK's worker only ever empties the queue.

Its defaults are sized for a busy agent (see ``benchmarks/drops.py``); the standard
``OTEL_BSP_*`` variables still win when set, and a batch is never larger than the queue.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

logger = logging.getLogger("agentel.exporters")

DEFAULT_MAX_QUEUE_SIZE = 32_768
DEFAULT_MAX_EXPORT_BATCH_SIZE = 2_048
DEFAULT_SCHEDULE_DELAY_MILLIS = 1_000


def _setting(variable: str, default: int) -> int:
    """The positive integer in ``variable`` when set, else agentel's default."""
    try:
        value = int(os.environ.get(variable, "").strip())
    except ValueError:
        return default
    return value if value > 0 else default


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """A ``BatchSpanProcessor`` that calls ``on_drop(1)`` for each span it cannot queue.

    Works with the SDK's batch processor internals from 1.27 on (``queue`` before 1.34,
    ``_batch_processor._queue`` since); where neither is found it behaves as the SDK's own,
    uncounted, and says so once at debug level.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        on_drop: Callable[[int], None],
        *,
        max_queue_size: int | None = None,
        max_export_batch_size: int | None = None,
        schedule_delay_millis: float | None = None,
    ) -> None:
        if max_queue_size is None:
            max_queue_size = _setting("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE)
        if max_export_batch_size is None:
            max_export_batch_size = min(
                max_queue_size,
                _setting("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", DEFAULT_MAX_EXPORT_BATCH_SIZE),
            )
        if schedule_delay_millis is None:
            schedule_delay_millis = _setting(
                "OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY_MILLIS
            )
        super().__init__(
            exporter,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_millis=schedule_delay_millis,
        )
        self._on_drop = on_drop
        self._emit_lock = threading.Lock()
        self._queue, self._capacity, self._inner = self._sdk_queue()
        if self._queue is None:
            logger.debug("agentel: this SDK's batch queue is unknown; its drops are not counted")

    def _sdk_queue(self) -> tuple[collections.deque[Any] | None, int, Any]:
        inner = getattr(self, "_batch_processor", self)
        for queue_name, size_name in (("_queue", "_max_queue_size"), ("queue", "max_queue_size")):
            queue = getattr(inner, queue_name, None)
            size = getattr(inner, size_name, None)
            if isinstance(queue, collections.deque) and isinstance(size, int):
                return queue, size, inner
        return None, 0, inner

    def _closed(self) -> bool:
        return bool(getattr(self._inner, "_shutdown", False) or getattr(self._inner, "done", False))

    def on_end(self, span: ReadableSpan) -> None:
        if self._queue is None or not span.context.trace_flags.sampled:
            super().on_end(span)
            return
        with self._emit_lock:
            if self._closed():  # shut down on purpose (a handle's shutdown): not a loss
                return
            dropped = len(self._queue) >= self._capacity
            if not dropped:
                super().on_end(span)
        if dropped:
            try:
                self._on_drop(1)
            except Exception:
                logger.debug("agentel: counting a dropped span failed", exc_info=True)
