"""The bounded retry buffer behind every store exporter.

Batches the store refused with a transient error wait here, oldest first, bounded by a
span count and an age, and one background thread retries them with exponential backoff
(jittered). While the buffer holds anything, new batches queue behind it, so spans reach
the store in the order they were exported.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable

from opentelemetry.instrumentation.utils import suppress_instrumentation

from agentel.store import SpanRecord

logger = logging.getLogger("agentel.exporters")

INITIAL_BACKOFF_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0

Deliver = Callable[[list[SpanRecord]], None]
Drop = Callable[[int, str, "BaseException | None"], None]


class RetryBuffer:
    """Batches waiting for the store, and the thread that retries them.

    ``deliver`` writes a batch (raising when it cannot); ``retryable`` says whether an error
    means "unavailable now"; ``salvage`` handles a batch the store refused for its content;
    ``drop`` accounts for spans given up on. ``name`` is the redacted store URL for logs.
    """

    def __init__(
        self,
        *,
        name: str,
        max_spans: int,
        max_seconds: float,
        deliver: Deliver,
        retryable: Callable[[BaseException], bool],
        salvage: Callable[[list[SpanRecord], BaseException], bool],
        drop: Drop,
    ) -> None:
        self.name = name
        self.max_spans = max_spans
        self.max_seconds = max_seconds
        self._deliver = deliver
        self._retryable = retryable
        self._salvage = salvage
        self._drop = drop
        self._logged_outage = False
        self.reset()

    def reset(self) -> None:
        """Fresh lock, queue and thread (at start and in a forked child)."""
        self._cond = threading.Condition(threading.Lock())  # guards everything below
        self._batches: collections.deque[tuple[float, list[SpanRecord]]] = collections.deque()
        self._spans = 0
        self._outage = False
        self._retry_now = False
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    @property
    def spans(self) -> int:
        """Spans waiting for the store to come back."""
        return self._spans

    def queue_if_waiting(self, records: list[SpanRecord]) -> bool | None:
        """During an outage queue ``records`` (the retry thread owns delivery) and say whether
        they were kept; None when the store is not known to be out."""
        with self._cond:
            return self._enqueue(records) if self._outage else None

    def hold(self, records: list[SpanRecord], exc: BaseException) -> bool:
        """The store just failed with ``exc``: start an outage and queue ``records``."""
        with self._cond:
            self._begin_outage(exc)
            return self._enqueue(records)

    def flush(self, deadline: float) -> bool:
        """Ask the retry thread to try now and wait (until ``deadline``) for an empty buffer."""
        with self._cond:
            self._retry_now = True
            self._cond.notify_all()
            while self._batches:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
            return True

    def clear(self) -> int:
        """Give up on everything queued; the number of spans discarded."""
        with self._cond:
            left = self._spans
            self._batches.clear()
            self._spans = 0
            self._cond.notify_all()
        return left

    # --- internals (under self._cond unless said otherwise) ----------------------------------
    def _begin_outage(self, exc: BaseException) -> None:
        self._outage = True
        self.last_error = exc
        if not self._logged_outage:
            self._logged_outage = True
            logger.warning(
                "agentel: %s is unavailable (%s: %s); buffering up to %d spans for up to %g s "
                "and retrying in the background",
                self.name,
                type(exc).__name__,
                exc,
                self.max_spans,
                self.max_seconds,
            )

    def _enqueue(self, records: list[SpanRecord]) -> bool:
        overflow = self._spans + len(records) - self.max_spans
        dropped = 0
        while overflow > 0 and self._batches:  # oldest first, like the SDK's queue
            _, old = self._batches.popleft()
            self._spans -= len(old)
            overflow -= len(old)
            dropped += len(old)
        if overflow > 0:
            dropped += overflow
            records = records[overflow:]
        if records:
            self._batches.append((time.monotonic() + self.max_seconds, records))
            self._spans += len(records)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._retry_loop, name="agentel-store-retry", daemon=True
            )
            self._thread.start()
        self._cond.notify_all()
        if dropped:
            self._drop(dropped, "the retry buffer is full", self.last_error)
        return bool(records)

    def _expire(self) -> None:
        now = time.monotonic()
        expired = 0
        while self._batches and self._batches[0][0] <= now:
            _, old = self._batches.popleft()
            self._spans -= len(old)
            expired += len(old)
        if expired:
            self._drop(
                expired,
                f"the store stayed unavailable for {self.max_seconds:g} s",
                self.last_error,
            )

    def _retry_loop(self) -> None:
        """The background thread (not under the lock), with instrumentation suppressed."""
        with suppress_instrumentation():
            self._retry()

    def _retry(self) -> None:
        backoff = INITIAL_BACKOFF_SECONDS
        while True:
            with self._cond:
                if not self._retry_now:
                    self._cond.wait(backoff * random.uniform(0.8, 1.2))
                self._retry_now = False
                self._expire()
                if not self._batches:
                    self._outage = False
                    self._cond.notify_all()
                    return
            try:
                delivered = self._drain()
            except Exception:  # the loop must outlive anything a store throws at it
                logger.debug("agentel: retrying %s failed", self.name, exc_info=True)
                delivered = False
            backoff = (
                INITIAL_BACKOFF_SECONDS if delivered else min(backoff * 2, MAX_BACKOFF_SECONDS)
            )

    def _drain(self) -> bool:
        """Write queued batches oldest first; False when the store is still unavailable."""
        while True:
            with self._cond:
                if not self._batches:
                    return True
                records = self._batches[0][1]
            try:
                self._deliver(records)
            except Exception as exc:
                if self._retryable(exc):
                    with self._cond:
                        self.last_error = exc
                    return False
                self._salvage(records, exc)
            with self._cond:
                if self._batches and self._batches[0][1] is records:
                    self._batches.popleft()
                    self._spans -= len(records)
                self._cond.notify_all()
                if not self._batches:
                    logger.info("agentel: %s is back; buffered spans delivered", self.name)
