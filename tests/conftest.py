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


class EmittedKeys(SpanProcessor):
    """Every attribute key, event key and event name agentel's own instrumentation emits in the
    session (spans whose instrumentation scope starts with ``agentel``), for the compliance test
    in tests/semconv/test_compliance.py, which runs last."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # key -> the first span that carried it
        self.event_names: dict[str, str] = {}

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
        if not scope.startswith("agentel"):
            return
        for key in span.attributes or {}:
            self.keys.setdefault(key, span.name)
        for event in span.events:
            self.event_names.setdefault(event.name, span.name)
            for key in event.attributes or {}:
                self.keys.setdefault(key, f"{span.name} / {event.name}")


@pytest.fixture(scope="session")
def emitted_keys() -> EmittedKeys:
    """Add to any private TracerProvider a test creates, so its spans are checked too."""
    return EmittedKeys()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The session-wide compliance test runs after every test that emits spans."""
    last = [i for i in items if i.name == "test_every_key_emitted_in_the_session_is_registered"]
    items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="session")
def fanout(emitted_keys: EmittedKeys) -> Fanout:
    """The session's global SDK TracerProvider: run-id stamping plus a per-test fan-out."""
    current = trace.get_tracer_provider()
    provider = current if isinstance(current, TracerProvider) else TracerProvider()
    provider.add_span_processor(RunIdSpanProcessor())
    provider.add_span_processor(emitted_keys)
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
