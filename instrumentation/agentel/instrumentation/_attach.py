"""Make a framework's span current between its start and end callbacks, safely.

Frameworks report "run started" and "run ended" through callbacks; the span must be the
current OpenTelemetry span in between, so provider spans (an OpenAI call made by the
framework) nest under it. A context token can only be detached in the ``contextvars.Context``
it was attached in, and frameworks sometimes deliver the end callback in a copied context
(an asyncio task, a thread): detaching there would fail. A marker variable set next to the
token tells the two cases apart without touching OpenTelemetry's error logging.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Hashable

from opentelemetry import context as otel_context

_MARK: contextvars.ContextVar[object] = contextvars.ContextVar("agentel_attached", default=None)


class Attachments:
    """Context tokens per framework run id. ``attach`` at start, ``release`` at end."""

    def __init__(self) -> None:
        self._tokens: dict[Hashable, tuple[contextvars.Token[object], object]] = {}
        self._lock = threading.Lock()

    def attach(self, key: Hashable, ctx: otel_context.Context) -> None:
        """Make ``ctx`` current in the caller's context until ``release(key)``."""
        mark = _MARK.set(key)
        token = otel_context.attach(ctx)
        with self._lock:
            self._tokens[key] = (mark, token)

    def release(self, key: Hashable) -> None:
        """Undo ``attach(key)`` if called in the same context; otherwise just forget it.

        Called in another context (a copy), nothing can be undone there: the original context
        keeps the span current until an enclosing scope of the caller restores it. Callers
        avoid that by releasing from the framework's own context first (see the LangChain
        instrumentor, which releases before LangChain hands its end callbacks to a task).
        """
        with self._lock:
            entry = self._tokens.pop(key, None)
        if entry is None:
            return
        mark, token = entry
        try:
            _MARK.reset(mark)
        except (ValueError, RuntimeError):  # created in another Context, or already used
            return
        otel_context.detach(token)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._tokens)
