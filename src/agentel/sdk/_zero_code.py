"""Zero-code set-up for ``opentelemetry-instrument``: the SDK's own configurator plus run ids.

Registered as the ``agentel`` entry point in ``opentelemetry_configurator``, so
``OTEL_TRACES_EXPORTER=agentel_sqlite opentelemetry-instrument python agent.py`` needs no
extra package. If another configurator (e.g. opentelemetry-distro's) is loaded first, spans
still arrive; their run ids are then resolved at ingest instead of stamped at start.
With an ``agentel_*`` exporter selected, runs are also recorded as running when they start.
Every selected exporter gets agentel's ``CountingBatchSpanProcessor`` instead of the SDK's
plain one, so a span the batch queue cannot hold is counted (and, for a store exporter,
recorded on the store) exactly as under ``configure()``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk import _configuration
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from agentel.exporters._base import StoreSpanExporter
from agentel.exporters._privacy import content_capture_from_env
from agentel.exporters.batch import CountingBatchSpanProcessor
from agentel.exporters.processor import LiveRunSpanProcessor, RunIdSpanProcessor
from agentel.sdk._privacy import warn_if_zero_code_content

logger = logging.getLogger("agentel.sdk")

_LIVE_EXPORTERS = {
    "agentel_sqlite": "agentel.exporters.sqlite:SQLiteSpanExporter",
    "agentel_mongodb": "agentel.exporters.mongodb:MongoSpanExporter",
}


_COMPONENT_OPTIONS = frozenset(inspect.signature(_configuration._initialize_components).parameters)


def counting_processor(exporter: SpanExporter) -> SpanProcessor:
    """The batch processor of one ``OTEL_TRACES_EXPORTER`` exporter: a store exporter counts
    the spans its queue drops like its own (``failed_spans``, the metric, the store); any
    other exporter gets the metric and one log line, as ``configure(otlp=...)`` does."""
    from agentel.sdk._configure import _OTLPDrops

    if isinstance(exporter, StoreSpanExporter):
        return CountingBatchSpanProcessor(exporter, exporter.count_dropped)
    return CountingBatchSpanProcessor(exporter, _OTLPDrops())


class AgentelConfigurator(_OTelSDKConfigurator):
    """Configure the SDK from ``OTEL_*`` variables, then stamp run ids on every span."""

    def _configure(self, **kwargs: Any) -> None:
        if "export_span_processor" in _COMPONENT_OPTIONS:  # an older SDK: uncounted
            kwargs.setdefault("export_span_processor", counting_processor)
        super()._configure(**kwargs)
        warn_if_zero_code_content(content_capture_from_env())
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            return
        provider.add_span_processor(RunIdSpanProcessor())
        selected = os.environ.get("OTEL_TRACES_EXPORTER", "")
        for name in dict.fromkeys(n.strip() for n in selected.split(",")):
            if name not in _LIVE_EXPORTERS:
                continue
            module, _, cls = _LIVE_EXPORTERS[name].partition(":")
            try:
                exporter = getattr(importlib.import_module(module), cls)()
            except Exception as exc:  # the app must start even with a bad store setting
                logger.warning("agentel: live runs not recorded for %s: %s", name, exc)
                continue
            provider.add_span_processor(LiveRunSpanProcessor(exporter, owns_exporter=True))
