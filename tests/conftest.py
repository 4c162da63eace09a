"""Shared fixtures: one global tracer provider for the whole session, scripted LLM servers,
and per-test SQLite stores fed by the real exporter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.exporters.processor import RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import Store, open_store


class Fanout(SpanProcessor):
    """Forwards to whatever processors the running test attached (the global provider is set once)."""

    def __init__(self) -> None:
        self.processors: list[SpanProcessor] = []

    def on_start(self, span, parent_context=None) -> None:
        for p in self.processors:
            p.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for p in self.processors:
            p.on_end(span)


@pytest.fixture(scope="session")
def fanout() -> Fanout:
    """The session's global SDK TracerProvider: run-id stamping plus a per-test fan-out."""
    current = trace.get_tracer_provider()
    provider = current if isinstance(current, TracerProvider) else TracerProvider()
    provider.add_span_processor(RunIdSpanProcessor())
    out = Fanout()
    provider.add_span_processor(out)
    if provider is not current:
        trace.set_tracer_provider(provider)
    return out


@pytest.fixture
def memory_spans(fanout: Fanout) -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test, in memory."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    fanout.processors.append(processor)
    yield exporter
    fanout.processors.remove(processor)


@dataclass
class Recorded:
    url: str
    exporter: SQLiteSpanExporter

    def open(self) -> Store:
        return open_store(self.url)


@pytest.fixture
def sqlite_recording(fanout: Fanout, tmp_path) -> Iterator[Recorded]:
    """Every span this test ends goes through the real SQLiteSpanExporter into a fresh file."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    exporter = SQLiteSpanExporter(url)
    processor = SimpleSpanProcessor(exporter)
    fanout.processors.append(processor)
    yield Recorded(url, exporter)
    fanout.processors.remove(processor)
    exporter.shutdown()
