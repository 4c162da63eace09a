"""Provider SDK retries as span events on the call's LLM span.

The openai and anthropic SDKs retry a failed attempt (429, 5xx, a timeout) by themselves,
``max_retries`` times, sleeping in ``_sleep_for_retry`` between attempts. Without a trace of
it a retried call only looks slow. The sleep is wrapped (by module path, like every patch:
an SDK version without it is skipped) to add one ``agentel.retry`` event per retry, stamped
at the start of the wait, with the attempt number, the failed attempt's HTTP status and the
time waited.

The call is found through a context value that ``start_llm_span`` sets next to the current
span (:data:`CALL_KEY`): an SDK that makes its own span current around its retries (the
anthropic SDK does) still has its retries recorded on our span.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context

from agentel.semconv import attributes as A

from ._common import log_once

CALL_KEY = context.create_key("agentel-provider-call")
"""The context value holding the :class:`ProviderCall` of the SDK call in progress."""

Wrapped = Callable[..., Any]


def _record(call: Any, kwargs: dict[str, Any], started_ns: int, waited: float) -> None:
    """One ``agentel.retry`` event on ``call``'s span (nothing once the span has ended)."""
    try:
        if call._ended:
            return
        attributes: dict[str, Any] = {
            A.AGENTEL_RETRY_ATTEMPT: int(kwargs.get("retries_taken", 0)) + 1,
            A.AGENTEL_RETRY_WAIT: waited,
        }
        status = getattr(kwargs.get("response"), "status_code", None)
        if isinstance(status, int):
            attributes[A.HTTP_RESPONSE_STATUS_CODE] = status
        call._span.add_event(A.EVENT_RETRY, attributes, timestamp=started_ns)
    except Exception:
        log_once("retry.event", "could not record an SDK retry")


def sync_retry_wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Wrap ``SyncAPIClient._sleep_for_retry``: the wait runs unchanged, then is recorded."""
    call = context.get_value(CALL_KEY)
    if call is None:
        return wrapped(*args, **kwargs)
    started_ns, started = time.time_ns(), time.perf_counter()
    try:
        return wrapped(*args, **kwargs)
    finally:
        _record(call, kwargs, started_ns, time.perf_counter() - started)


async def async_retry_wrapper(wrapped: Wrapped, instance: Any, args: tuple, kwargs: dict) -> Any:
    """Wrap ``AsyncAPIClient._sleep_for_retry`` as :func:`sync_retry_wrapper` does."""
    call = context.get_value(CALL_KEY)
    if call is None:
        return await wrapped(*args, **kwargs)
    started_ns, started = time.time_ns(), time.perf_counter()
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _record(call, kwargs, started_ns, time.perf_counter() - started)


def retry_patches(sdk: str) -> list[tuple[str, str, Wrapped]]:
    """The patches that record ``sdk``'s retries (``"openai"`` or ``"anthropic"``)."""
    module = f"{sdk}._base_client"
    return [
        (module, "SyncAPIClient._sleep_for_retry", sync_retry_wrapper),
        (module, "AsyncAPIClient._sleep_for_retry", async_retry_wrapper),
    ]
