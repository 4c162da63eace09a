"""GenAI client metrics through the OpenTelemetry metrics API.

Instruments come from the meter provider given to ``instrument(meter_provider=...)`` or the
global one (a no-op until an SDK ``MeterProvider`` is installed). Histograms carry the
official explicit bucket boundaries as an advisory, which the SDK applies unless a View says
otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider, NoOpHistogram, get_meter

from agentel.semconv import attributes as A

from ._common import TRACER_NAME, log_once
from .version import __version__

# Metric names: the official GenAI client metrics plus agentel's cost counter.


TOKEN_USAGE_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

# Span attributes that also dimension the metrics (low cardinality by design).
METRIC_ATTRIBUTE_KEYS = (
    A.GEN_AI_OPERATION_NAME,
    A.GEN_AI_PROVIDER_NAME,
    A.GEN_AI_REQUEST_MODEL,
    A.SERVER_ADDRESS,
    A.SERVER_PORT,
)


class GenAIMetrics:
    """The four instruments one instrumentor records to."""

    __slots__ = ("_noop", "cost", "duration", "time_to_first_chunk", "token_usage")

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        meter = get_meter(TRACER_NAME, __version__, meter_provider=meter_provider)
        self.token_usage = meter.create_histogram(
            A.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_USAGE_BUCKETS),
        )
        self.duration = meter.create_histogram(
            A.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.time_to_first_chunk = meter.create_histogram(
            A.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the start of a streamed call to its first chunk.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.cost = meter.create_counter(
            A.METRIC_AGENTEL_CLIENT_COST,
            unit="USD",
            description="Cost of GenAI calls, from agentel's dated price catalog.",
        )
        self._noop = isinstance(self.duration, NoOpHistogram)  # never records: asked once

    @property
    def enabled(self) -> bool:
        """False while recording would do nothing, so a call can skip building attributes.

        That is the case for no-op instruments, and for the global provider's proxy
        instruments until an SDK ``MeterProvider`` is set (then they all start recording).
        """
        if self._noop:
            return False
        instrument = self.duration
        return getattr(instrument, "_real_instrument", instrument) is not None

    def record(
        self,
        attributes: Mapping[str, Any],
        *,
        duration: float,
        input_tokens: int | None,
        output_tokens: int | None,
        time_to_first_chunk: float | None,
        cost: float | None,
    ) -> None:
        """Record one finished call. Never raises."""
        try:
            attrs = dict(attributes)
            self.duration.record(duration, attrs)
            if time_to_first_chunk is not None:
                self.time_to_first_chunk.record(time_to_first_chunk, attrs)
            attrs.pop(A.ERROR_TYPE, None)
            if cost is not None:
                self.cost.add(cost, attrs)
            if input_tokens is not None:
                self.token_usage.record(input_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: "input"})
            if output_tokens is not None:
                self.token_usage.record(output_tokens, {**attrs, A.GEN_AI_TOKEN_TYPE: "output"})
        except Exception:
            log_once("metrics.record", "could not record GenAI metrics")
