"""Zero-code set-up for ``opentelemetry-instrument``: the SDK's own configurator plus run ids.

Registered as the ``agentel`` entry point in ``opentelemetry_configurator``, so
``OTEL_TRACES_EXPORTER=agentel_sqlite opentelemetry-instrument python agent.py`` needs no
extra package. If another configurator (e.g. opentelemetry-distro's) is loaded first, spans
still arrive; their run ids are then resolved at ingest instead of stamped at start.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace import TracerProvider

from agentel.exporters.processor import RunIdSpanProcessor


class AgentelConfigurator(_OTelSDKConfigurator):
    """Configure the SDK from ``OTEL_*`` variables, then stamp run ids on every span."""

    def _configure(self, **kwargs: Any) -> None:
        super()._configure(**kwargs)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(RunIdSpanProcessor())
