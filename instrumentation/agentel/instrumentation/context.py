"""Keep the current run when work moves to threads, executors, processes and services.

asyncio needs nothing: tasks copy ``contextvars`` (OpenTelemetry's context lives there), so
spans started in ``asyncio.gather`` / ``TaskGroup`` children nest under the caller's span.
Threads do not inherit context; use one of these::

    from agentel.instrumentation.context import ContextThreadPoolExecutor, wrap

    with ContextThreadPoolExecutor(max_workers=4) as pool:   # every submit() keeps the context
        results = list(pool.map(fetch, urls))

    threading.Thread(target=wrap(work)).start()             # wrap(): run in the caller's context
    loop.run_in_executor(None, wrap(work))

Across processes and services, send W3C ``traceparent`` plus a ``baggage`` entry
``agentel.run.id`` (so spans on the other side join the same run) and continue there::

    headers = inject()                       # in the caller: a dict of string headers
    with continue_trace(headers):            # in the callee (another process / service)
        with agent("worker"): ...            # a child of the caller's span, in the same run
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentel.semconv.attributes import AGENTEL_RUN_ID, BAGGAGE_RUN_ID

from ._common import log_once

T = TypeVar("T")

# Explicit W3C propagators: they work whatever OTEL_PROPAGATORS says for the app's own HTTP.
_PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to a copy of the current context: call it from any thread, it runs here.

    Each call runs in its own copy, so the wrapped function may run concurrently.
    """
    snapshot = contextvars.copy_context()

    @functools.wraps(fn)
    def in_context(*args: Any, **kwargs: Any) -> T:
        return snapshot.copy().run(fn, *args, **kwargs)

    return in_context


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose ``submit`` (and so ``map``) runs each call in the
    submitter's context, so spans in worker threads nest under the submitting span."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


def current_run_id() -> str | None:
    """The run id of the current span (stamped by agentel's processor), else from baggage."""
    attributes = getattr(trace.get_current_span(), "attributes", None)
    run_id = attributes.get(AGENTEL_RUN_ID) if attributes else None
    if isinstance(run_id, str) and run_id:
        return run_id
    entry = baggage.get_baggage(BAGGAGE_RUN_ID)
    return entry if isinstance(entry, str) and entry else None


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str] | Any:
    """Write ``traceparent`` (+ ``tracestate``) and ``baggage`` with the run id into ``carrier``.

    Returns the carrier (a new dict when none is given): pass it as HTTP headers, a message's
    metadata, or an environment for a child process. Never raises.
    """
    out: Any = {} if carrier is None else carrier
    try:
        ctx = otel_context.get_current()
        run_id = current_run_id()
        if run_id:
            ctx = baggage.set_baggage(BAGGAGE_RUN_ID, run_id, context=ctx)
        _PROPAGATOR.inject(out, context=ctx)
    except Exception:
        log_once("context.inject", "could not inject the trace context")
    return out


def extract(carrier: Mapping[str, str]) -> otel_context.Context:
    """The context sent by :func:`inject` (remote parent span plus baggage). Never raises."""
    try:
        return _PROPAGATOR.extract(_lower_keys(carrier))
    except Exception:
        log_once("context.extract", "could not extract the trace context")
        return otel_context.get_current()


@contextmanager
def continue_trace(carrier: Mapping[str, str]) -> Iterator[otel_context.Context]:
    """Make the context sent by :func:`inject` current: spans inside continue the caller's run."""
    token = otel_context.attach(extract(carrier))
    try:
        yield otel_context.get_current()
    finally:
        otel_context.detach(token)


def _lower_keys(carrier: Mapping[str, str]) -> dict[str, str]:
    # HTTP header names are case-insensitive; the W3C propagators look up lowercase keys.
    return {str(k).lower(): v for k, v in carrier.items()}


__all__ = [
    "ContextThreadPoolExecutor",
    "continue_trace",
    "current_run_id",
    "extract",
    "inject",
    "wrap",
]
