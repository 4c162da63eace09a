"""Wire OpenTelemetry for agents: provider, run-id stamping, batch export to a store, instrumentors."""

from __future__ import annotations

import atexit
import functools
import importlib
import importlib.metadata
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from agentel.exporters._base import StoreSpanExporter
from agentel.exporters._privacy import RedactingSpanExporter, content_capture_from_env
from agentel.exporters.batch import CountingBatchSpanProcessor
from agentel.exporters.processor import LiveRunSpanProcessor, RunIdSpanProcessor
from agentel.instrumentation._config import set_default_redactor
from agentel.sdk._logging import install_queue_full_filter
from agentel.sdk._privacy import warn_if_active_content
from agentel.semconv.attributes import METRIC_AGENTEL_EXPORTER_DROPPED_SPANS
from agentel.semconv.pricing import PriceBook, set_default_pricebook
from agentel.store import Store, default_store_url, open_store, store_kind

logger = logging.getLogger("agentel.sdk")


@functools.cache
def _entry_points(group: str) -> dict[str, str]:
    """agentel's own entry points in ``group`` (name -> ``module:attr``), as pyproject.toml
    declares them: the one list of instrumentors and exporters."""
    dist = importlib.metadata.distribution("agentel")
    return {ep.name: ep.value for ep in dist.entry_points if ep.group == group}


def instrumentors() -> dict[str, str]:
    """Instrumentor names accepted by ``configure(instrument=...)`` and where they live: the
    ``agentel_<name>`` entries of the ``opentelemetry_instrumentor`` group."""
    found = _entry_points("opentelemetry_instrumentor")
    return {
        name[len("agentel_") :]: path for name, path in found.items() if name.startswith("agentel_")
    }


def __getattr__(name: str) -> Any:
    if name == "INSTRUMENTORS":  # computed on use: reading entry points costs a directory scan
        return instrumentors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _store_exporter(url: str) -> StoreSpanExporter:
    """The live exporter for a store URL: the ``agentel_<kind>`` traces exporter entry point
    (``memory://`` is in-process, so it gets the base exporter over a new memory store)."""
    if "://" not in url and not url.startswith("sqlite:"):
        url = f"sqlite:///{url}"  # a plain file path
    kind = store_kind(url)
    if kind == "memory":
        return StoreSpanExporter(open_store(url))
    exporter: type[StoreSpanExporter] = _load(
        _entry_points("opentelemetry_traces_exporter")[f"agentel_{kind}"]
    )
    return exporter(url)


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _wanted(instrument: str | Iterable[str] | None) -> list[str]:
    if instrument is None or instrument == "none" or instrument is False:
        return []
    known = instrumentors()
    if instrument == "all":
        return list(known)
    names = [instrument] if isinstance(instrument, str) else list(instrument)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown instrumentor(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(known)} or 'all'"
        )
    return names


def _installed(name: str, instrumentor: Any) -> bool:
    """Whether the instrumentor's library is installed in a version it supports.

    A library that is not installed is skipped silently (DEBUG); one installed in an
    unsupported version is reported at INFO, never as an error.
    """
    conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
    if conflict is None:
        return True
    missing = not (conflict.found or conflict.found_any)
    log = logger.debug if missing else logger.info
    log("agentel: %s instrumentation not enabled: %s", name, conflict)
    return False


def _instrument(name: str, instrumentor: Any, options: Mapping[str, Any]) -> bool:
    """Switch one instrumentor on; False (logged at INFO) when it could not be."""
    try:
        instrumentor.instrument(skip_dep_check=True, **options)
    except Exception as exc:
        logger.info("agentel: %s instrumentation not enabled: %s", name, exc)
        return False
    return bool(instrumentor.is_instrumented_by_opentelemetry)


class _OnImport:
    """Instrument a library on its first import (a post-import hook), not in ``configure()``.

    Importing an SDK such as ``openai`` costs seconds; an application that has not imported
    it yet should not pay for it in ``configure()``. The hook runs inside the application's
    import statement, so it never raises; ``cancel()`` (at shutdown) makes it do nothing.
    """

    def __init__(
        self,
        name: str,
        instrumentor: Any,
        module: str,
        options: Mapping[str, Any],
        enabled: list[Any],
    ) -> None:
        self.name = name
        self.instrumentor = instrumentor
        self._options = options
        self._enabled = enabled
        self._lock = threading.Lock()
        self._done = False
        wrapt.register_post_import_hook(self._imported, module)

    def _imported(self, module: Any) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
            if self.instrumentor.is_instrumented_by_opentelemetry:
                return  # switched on meanwhile by someone else: not ours
            try:
                on = _installed(self.name, self.instrumentor) and _instrument(
                    self.name, self.instrumentor, self._options
                )
            except Exception:  # never into the application's import statement
                logger.debug("agentel: %s instrumentation failed", self.name, exc_info=True)
                return
            if on:
                self._enabled.append(self.instrumentor)

    def cancel(self) -> None:
        """Never instrument from now on (the handle was shut down)."""
        with self._lock:
            self._done = True


def _within(deadline: float, work: Callable[[], bool]) -> bool:
    """Run ``work`` on a daemon thread and wait for it until ``deadline`` (monotonic).

    False when it failed or is still running then; the thread is left to finish or to die
    with the process, so a hung exporter cannot hold the caller past its time limit. Where a
    thread cannot be started (Python 3.12 inside an exit hook) ``work`` runs inline, bounded
    by the limits every processor and exporter applies itself.
    """
    outcome: list[bool] = []

    def run() -> None:
        try:
            with suppress_instrumentation():  # flushing writes to the store: not the app's
                outcome.append(bool(work()))
        except Exception:
            logger.debug("agentel: flush or shutdown failed", exc_info=True)
            outcome.append(False)

    worker = threading.Thread(target=run, name="agentel-shutdown", daemon=True)
    try:
        worker.start()
    except RuntimeError:
        run()
        return outcome[0]
    worker.join(max(0.0, deadline - time.monotonic()))
    return bool(outcome) and outcome[0]


def _millis_left(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


class Handle:
    """What ``configure()`` set up; flush or shut it down (also done, bounded, at exit).

    Both calls return within their ``timeout_millis`` whatever the store or collector does.
    """

    def __init__(
        self,
        provider: TracerProvider,
        processors: list[SpanProcessor],
        instrumentors: list[Any],
        store_url: str | None,
        owns_provider: bool,
        exporter: StoreSpanExporter | None = None,
        otlp: bool | str = False,
    ) -> None:
        self.provider = provider
        self.processors = processors
        self.instrumentors = instrumentors
        """The instrumentors agentel switched on, shared by every active handle."""
        self.store_url = store_url
        self.otlp = otlp
        self._owns_provider = owns_provider
        self._exporter = exporter
        self._lock = threading.Lock()
        self._shut = False
        self._dropped_seen = 0
        self._pending: list[_OnImport] = []
        """Post-import hooks still waiting for their library, shared like ``instrumentors``."""

    @property
    def exporter(self) -> StoreSpanExporter | None:
        """The store exporter: ``failed_spans``, ``buffered_spans``, ``exported_spans``."""
        return self._exporter

    @property
    def store(self) -> Store | None:
        """The store spans are written to (the only way to reach a ``memory://`` store)."""
        return self._exporter.store if self._exporter is not None else None

    meter_provider: Any = None
    """The MeterProvider ``configure(otlp=...)`` created for metrics over OTLP, if any."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything buffered so far; True when it all reached the store in time.

        False as well when spans were dropped since the previous flush (a full batch queue,
        an outage past the retry buffer): ``exporter.failed_spans`` says how many.
        """
        deadline = time.monotonic() + timeout_millis / 1000

        def flush() -> bool:
            ok = all([p.force_flush(_millis_left(deadline)) for p in self.processors])
            if self._exporter is not None:  # spans held back by a store outage
                ok = self._exporter.force_flush(_millis_left(deadline)) and ok
                dropped = self._exporter.failed_spans
                ok = ok and dropped == self._dropped_seen
                self._dropped_seen = dropped
            if self.meter_provider is not None:
                ok = self.meter_provider.force_flush(_millis_left(deadline)) and ok
            return ok

        return _within(deadline, flush)

    def shutdown(self, timeout_millis: int = 30_000) -> None:
        """Flush and stop this handle's destinations; idempotent. The last active handle also
        removes the instrumentation (another handle's destinations still need it).

        Returns within ``timeout_millis``; spans not delivered by then are counted as dropped.
        """
        with self._lock:
            if self._shut:
                return
            self._shut = True
        deadline = time.monotonic() + timeout_millis / 1000
        with _ACTIVE_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            last = not _ACTIVE
            instrumentors = list(self.instrumentors) if last else []
            if last:
                for hook in self._pending:  # a library imported from now on stays as it is
                    hook.cancel()
                self._pending.clear()
                self.instrumentors.clear()
        for instrumentor in instrumentors:
            try:
                instrumentor.uninstrument()
            except Exception:
                logger.debug("agentel: uninstrument failed", exc_info=True)

        if self._exporter is not None:  # its last retry ends in time to count what is left
            self._exporter.shutdown_timeout_millis = max(0, _millis_left(deadline) - 100)

        def stop() -> bool:
            for processor in self.processors:
                if isinstance(processor, LiveRunSpanProcessor):
                    processor.shutdown(_millis_left(deadline))
                else:  # the SDK's BatchSpanProcessor exports what it holds, then the exporter
                    processor.shutdown()
            if self._exporter is not None:
                self._exporter.shutdown(_millis_left(deadline))
            if self.meter_provider is not None:
                self.meter_provider.shutdown(_millis_left(deadline))
            return True

        _within(deadline, stop)


_ACTIVE: list[Handle] = []
"""Handles not shut down yet, oldest first: they share one provider and the instrumentors."""
_ACTIVE_LOCK = threading.RLock()
_STAMPED: weakref.WeakSet[TracerProvider] = weakref.WeakSet()
"""Providers that already have agentel's RunIdSpanProcessor."""


def _existing(store: str | None, otlp: bool | str) -> Handle | None:
    """The active handle writing to ``store`` (or, without a store, to the same OTLP target).

    Each ``memory://`` is a store of its own, never the same as another.
    """
    for handle in _ACTIVE:
        if store and handle.store_url == store and not store.startswith("memory:"):
            return handle
        if not store and not handle.store_url and otlp and handle.otlp == otlp:
            return handle
    return None


def configure(
    store: str | None = "sqlite:///agentel.db",
    *,
    otlp: bool | str = False,
    instrument: str | Iterable[str] | None = "all",
    service_name: str | None = None,
    capture_content: bool | None = None,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
    redact: Callable[[str], str] | None = None,
) -> Handle:
    """Record every agent run, LLM call and tool call into ``store``; returns a :class:`Handle`.

    ``store`` is a store URL (``sqlite:///agentel.db`` by default, ``AGENTEL_STORE`` wins when
    set and ``store`` is left at its default) or None for no store. ``instrument`` is "all",
    a name, a list of names, or None. ``prices`` overrides catalog prices per model
    (USD per 1M tokens). ``redact`` rewrites every captured prompt / completion / tool text
    (instrumentors and the manual API) before it is recorded. If a global SDK TracerProvider already exists, agentel adds its
    processors to it instead of replacing it.

    Called again while a handle is active: with the same store (or, with no store, the same
    OTLP target) it returns that handle unchanged; with another store it adds that store as a
    destination and returns a handle for it. Every span then goes once to each destination,
    the instrumentors stay shared (and on until the last handle shuts down), and the first
    call's ``capture_content`` holds; ``redact`` and ``prices`` change only when given.
    """
    wanted = _wanted(instrument)  # validate before changing anything
    if store == "sqlite:///agentel.db":
        store = default_store_url()
    with _ACTIVE_LOCK:
        found = _existing(store, otlp)
        if found is not None:
            logger.info("agentel: configure() already records to %s; same handle", store or otlp)
            return found
        handle = _configure(
            store,
            otlp,
            wanted,
            service_name,
            capture_content,
            prices,
            redact,
            joining=bool(_ACTIVE),
        )
        _ACTIVE.append(handle)
    atexit.register(handle.shutdown, 5_000)
    return handle


def _configure(
    store: str | None,
    otlp: bool | str,
    wanted: list[str],
    service_name: str | None,
    capture_content: bool | None,
    prices: Mapping[str, Mapping[str, Any]] | None,
    redact: Callable[[str], str] | None,
    *,
    joining: bool,
) -> Handle:
    """Set up one destination (and, unless ``joining`` an active handle, the shared parts)."""
    if prices is not None:
        set_default_pricebook(PriceBook.from_env(overrides=prices))
    if redact is not None or not joining:
        set_default_redactor(redact)
    install_queue_full_filter()

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider, owns = current, False
    else:
        attrs = {SERVICE_NAME: service_name} if service_name else {}
        # no SDK exit hook: its shutdown waits on a hung exporter without limit; ours is bounded
        provider = TracerProvider(resource=Resource.create(attrs), shutdown_on_exit=False)
        owns = True

    processors: list[SpanProcessor] = []
    if provider not in _STAMPED:
        processors.append(RunIdSpanProcessor())
        _STAMPED.add(provider)
    exporter = _store_exporter(store) if store else None
    keep_exceptions = content_capture_from_env() if capture_content is None else capture_content
    if exporter is not None:
        exporter.service_name = provider.resource.attributes.get(SERVICE_NAME)  # type: ignore[assignment]
        exporter.capture_content = keep_exceptions
        processors.append(LiveRunSpanProcessor(exporter))
        processors.append(CountingBatchSpanProcessor(exporter, exporter.count_dropped))
    if otlp:
        otlp_exporter = _otlp_exporter(otlp)
        if not keep_exceptions:
            otlp_exporter = RedactingSpanExporter(otlp_exporter)
        processors.append(CountingBatchSpanProcessor(otlp_exporter, _OTLPDrops()))
    for processor in processors:
        provider.add_span_processor(processor)
    if owns:
        trace.set_tracer_provider(provider)
    meter_provider = _otlp_meter_provider(otlp, provider.resource) if otlp else None

    options = {
        "tracer_provider": provider,
        "meter_provider": meter_provider,
        "capture_content": capture_content,
        "redact": redact,
    }
    enabled: list[Any] = _ACTIVE[0].instrumentors if joining else []
    pending: list[_OnImport] = _ACTIVE[0]._pending if joining else []
    for name in wanted:
        try:
            instrumentor = _load(instrumentors()[name])()
        except Exception as exc:
            logger.info("agentel: %s instrumentation not enabled: %s", name, exc)
            continue
        if instrumentor.is_instrumented_by_opentelemetry:
            continue  # already on (e.g. by opentelemetry-instrument): not ours to remove
        module = getattr(instrumentor, "_import_name", None)
        if module and module not in sys.modules:  # a library never imported costs nothing
            pending.append(_OnImport(name, instrumentor, module, options, enabled))
        elif _installed(name, instrumentor) and _instrument(name, instrumentor, options):
            enabled.append(instrumentor)

    handle = Handle(provider, processors, enabled, store, owns, exporter, otlp)
    handle.meter_provider = meter_provider
    handle._pending = pending
    warn_if_active_content(keep_exceptions)
    return handle


class _OTLPDrops:
    """Counts spans the OTLP batch processor could not queue: a metric and one log line."""

    def __init__(self) -> None:
        from opentelemetry.metrics import get_meter

        self.count = 0
        self._counter = get_meter("agentel.exporters").create_counter(
            METRIC_AGENTEL_EXPORTER_DROPPED_SPANS,
            unit="{span}",
            description="Spans a store exporter gave up on.",
        )

    def __call__(self, count: int) -> None:
        self.count += count
        self._counter.add(count, {"destination": "otlp"})
        if self.count == count:
            logger.error(
                "agentel: dropped %d span(s) bound for OTLP: the batch queue is full "
                "(further drops are counted in the %s metric, not logged)",
                count,
                METRIC_AGENTEL_EXPORTER_DROPPED_SPANS,
            )


def _otlp_protocol(signal: str) -> str:
    protocol = (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in ("grpc", "http/protobuf"):
        raise ValueError(f"OTLP protocol {protocol!r} is not supported; use grpc or http/protobuf")
    return protocol


def _otlp_exporter(otlp: bool | str) -> SpanExporter:
    """The standard OTLP span exporter, configured by ``OTEL_EXPORTER_OTLP_*``.

    ``otlp`` may be an endpoint URL; with http/protobuf the ``/v1/traces`` path is added the
    way the SDK does for ``OTEL_EXPORTER_OTLP_ENDPOINT``.
    """
    protocol = _otlp_protocol("TRACES")
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
                OTLPSpanExporter,
            )
    except ImportError as exc:
        raise RuntimeError(
            "configure(otlp=...) needs the OTLP exporter: pip install 'agentel[otlp]'"
        ) from exc
    if not isinstance(otlp, str):
        return OTLPSpanExporter()
    if protocol == "grpc":
        return OTLPSpanExporter(endpoint=otlp)
    return OTLPSpanExporter(endpoint=otlp.rstrip("/") + "/v1/traces")


def _otlp_meter_provider(otlp: bool | str, resource: Resource) -> Any:
    """A MeterProvider exporting agentel's metrics (token usage, duration, time to first
    chunk, cost) over OTLP next to the spans, configured by the same variables.

    It is passed to agentel's instrumentors only, so it never replaces an application's
    global MeterProvider.
    """
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    protocol = _otlp_protocol("METRICS")
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
                OTLPMetricExporter,
            )
    except ImportError as exc:
        raise RuntimeError(
            "configure(otlp=...) needs the OTLP exporter: pip install 'agentel[otlp]'"
        ) from exc
    if not isinstance(otlp, str):
        exporter = OTLPMetricExporter()
    elif protocol == "grpc":
        exporter = OTLPMetricExporter(endpoint=otlp)
    else:
        exporter = OTLPMetricExporter(endpoint=otlp.rstrip("/") + "/v1/metrics")
    return MeterProvider(
        resource=resource,
        metric_readers=[PeriodicExportingMetricReader(exporter)],
        shutdown_on_exit=False,  # the handle's exit hook shuts it down
    )
