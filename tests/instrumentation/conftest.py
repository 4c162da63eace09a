"""Fixtures: real OTel SDK providers with in-memory exporters.

The manual API reports to the *global* tracer provider, which can be set only once per
process: when the suite-wide ``fanout`` fixture exists it owns the provider and we add our
exporter to it; otherwise one session-wide provider is installed here. The exporter is
cleared for each test.
Instrumentors get their own provider through ``tracer_provider=``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


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
def server() -> Iterator[object]:
    """A fresh scripted OpenAI-compatible server."""
    from agentel.testing import ScriptedLLMServer

    with ScriptedLLMServer() as srv:
        yield srv
