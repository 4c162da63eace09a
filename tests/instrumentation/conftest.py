"""Fixtures: real OTel SDK providers with in-memory exporters.

The manual API reports to the *global* tracer provider, which can be set only once per
process: when the suite-wide ``fanout`` fixture exists it owns the provider and we add our
exporter to it; otherwise one session-wide provider is installed here. The exporter is
cleared for each test.
Instrumentors get their own provider through ``tracer_provider=``: a provider's test module
names its instrumentor classes in ``INSTRUMENTORS`` and switches them on with the ``instrument``
fixture; ``metrics`` gives them a real SDK meter provider with an in-memory reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.semconv import attributes as A
from agentel.testing import ScriptedLLMServer


@pytest.fixture(scope="session")
def _global_exporter(request: pytest.FixtureRequest) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    try:  # the suite-wide conftest owns the global provider when it is present
        fanout = request.getfixturevalue("fanout")
    except pytest.FixtureLookupError:
        fanout = None
    if fanout is not None:
        fanout.processors.append(processor)
        return exporter
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.add_span_processor(processor)
    else:
        provider = TracerProvider()
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def exporter(_global_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The global provider's exporter, empty at the start of the test."""
    _global_exporter.clear()
    yield _global_exporter
    _global_exporter.clear()


@pytest.fixture
def local_provider(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A private (non-global) provider and its exporter, for instrumentors."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with suppress(pytest.FixtureLookupError):  # the compliance collector of tests/conftest.py
        provider.add_span_processor(request.getfixturevalue("emitted_keys"))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def openai_exporter(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> Iterator[InMemorySpanExporter]:
    """OpenAIInstrumentor switched on (with a private provider) for the test."""
    from agentel.instrumentation.openai import OpenAIInstrumentor

    provider, exporter = local_provider
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


@pytest.fixture
def instrument(
    request: pytest.FixtureRequest, local_provider: tuple[TracerProvider, InMemorySpanExporter]
) -> Iterator[Callable[..., InMemorySpanExporter]]:
    """``instrument(**kwargs)``: the test module's ``INSTRUMENTORS`` switched on with the
    private provider (``kwargs`` go to ``instrument()``) until the test ends; returns the
    provider's exporter. Each call switches on a fresh set."""
    provider, exporter = local_provider
    on: list[Any] = []

    def switch_on(**kwargs: Any) -> InMemorySpanExporter:
        for cls in request.module.INSTRUMENTORS:
            instrumentor = cls()
            instrumentor.instrument(tracer_provider=provider, **kwargs)
            on.append(instrumentor)
        return exporter

    yield switch_on
    for instrumentor in on:
        instrumentor.uninstrument()


@pytest.fixture
def traced(instrument: Callable[..., InMemorySpanExporter]) -> InMemorySpanExporter:
    """The test module's ``INSTRUMENTORS`` switched on with default settings."""
    return instrument()


class Metrics:
    """A real SDK meter provider and what its in-memory reader collected, by metric name."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader])

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` collected so far ([] when none were recorded)."""
        data = self.reader.get_metrics_data()
        return [
            point
            for rm in (data.resource_metrics if data else ())
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def summary(self) -> dict[str, Any]:
        """What the GenAI client metrics recorded, in a form one assertion can compare:
        token sums by type, call counts by ``error.type`` (``None``: no error), the streams
        timed to their first chunk, the operations, providers, models and servers named, and
        whether cost was counted."""
        tokens = self.points(A.METRIC_GEN_AI_CLIENT_TOKEN_USAGE)
        durations = self.points(A.METRIC_GEN_AI_CLIENT_OPERATION_DURATION)
        every = tokens + durations
        by_type: dict[str, int] = {}
        for point in tokens:
            kind = point.attributes[A.GEN_AI_TOKEN_TYPE]
            by_type[kind] = by_type.get(kind, 0) + point.sum
        calls: dict[str | None, int] = {}
        for point in durations:
            error = point.attributes.get(A.ERROR_TYPE)
            calls[error] = calls.get(error, 0) + point.count
        return {
            "tokens": by_type,
            "calls": calls,
            "first_chunks": sum(
                p.count for p in self.points(A.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK)
            ),
            "operations": {p.attributes.get(A.GEN_AI_OPERATION_NAME) for p in every},
            "providers": {p.attributes.get(A.GEN_AI_PROVIDER_NAME) for p in every},
            "models": {p.attributes.get(A.GEN_AI_REQUEST_MODEL) for p in every},
            "servers": {
                (p.attributes.get(A.SERVER_ADDRESS), p.attributes.get(A.SERVER_PORT)) for p in every
            },
            "cost": sum(p.value for p in self.points(A.METRIC_AGENTEL_CLIENT_COST)) > 0,
        }


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    """A fresh meter provider to pass as ``instrument(meter_provider=metrics.provider)``."""
    collected = Metrics()
    yield collected
    collected.provider.shutdown()


@pytest.fixture
def srv() -> Iterator[ScriptedLLMServer]:
    """A fresh scripted LLM server (every dialect it speaks)."""
    with ScriptedLLMServer() as scripted:
        yield scripted


@pytest.fixture
def server(srv: ScriptedLLMServer) -> ScriptedLLMServer:
    """The same server, under the name the OpenAI tests use."""
    return srv
