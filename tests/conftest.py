"""Shared fixtures: one global tracer provider for the whole session, scripted LLM servers,
per-test SQLite stores fed by the real exporter, and a real MongoDB wire-protocol server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.exporters.processor import RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.instrumentation import _common
from agentel.store import Store, open_store
from agentel.testing.pytest_plugin import agentel_replay  # noqa: F401  (also an entry point)


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


@pytest.fixture(autouse=True)
def no_swallowed_errors(request: pytest.FixtureRequest) -> Iterator[list[_common.Swallowed]]:
    """Fail a test in which agentel's own code swallowed an error (``log_once``/``guarded``).

    A test that provokes one on purpose declares it: ``@pytest.mark.swallows("site", ...)``
    (site prefixes); each declared site must then occur. Every test starts with no site
    logged yet, so log-once behaviour does not depend on test order.
    """
    sink: list[_common.Swallowed] = []
    _common.reset_logged_sites()
    _common.collect_swallowed(sink)
    yield sink
    _common.collect_swallowed(None)
    marker = request.node.get_closest_marker("swallows")
    expected = tuple(marker.args) if marker else ()
    unexpected = [s for s in sink if not (expected and s.site.startswith(expected))]
    assert not unexpected, "agentel swallowed errors: " + "; ".join(
        f"[{s.site}] {s.message}: {s.error!r}" for s in unexpected
    )
    missing = [site for site in expected if not any(s.site.startswith(site) for s in sink)]
    assert not missing, f"declared swallows({', '.join(missing)}) but none occurred"


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


# --- a real MongoDB wire-protocol server for the MongoDB backend ---------------------------------
MONGODB_URI_ENV = "AGENTEL_TEST_MONGODB_URI"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_mongodb(uri: str, proc: subprocess.Popen | None, log: Path | None) -> None:
    import pymongo

    deadline = time.monotonic() + 60
    while True:
        if proc is not None and proc.poll() is not None:
            output = log.read_text() if log is not None else ""
            pytest.fail(f"secantusd-py exited with {proc.returncode} before serving:\n{output}")
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
        try:
            client.admin.command("ping")
            return
        except pymongo.errors.PyMongoError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"no MongoDB server answering at {uri}: {exc}")
            time.sleep(0.2)
        finally:
            client.close()


@pytest.fixture(scope="session")
def mongodb_server(tmp_path_factory) -> Iterator[str]:
    """Base URI (no database) of a real MongoDB wire-protocol server for the whole session.

    ``AGENTEL_TEST_MONGODB_URI`` when set; otherwise SecantusDB (a dev dependency) started on a
    free port with in-memory storage and stopped at the end. A missing server fails the run.
    """
    given = os.environ.get(MONGODB_URI_ENV)
    if given:
        uri = given.rstrip("/")
        _wait_for_mongodb(uri, None, None)
        yield uri
        return
    exe = Path(sys.executable).parent / "secantusd-py"
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the dev extra or set {MONGODB_URI_ENV}")
    port = _free_port()
    log = tmp_path_factory.mktemp("secantus") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    uri = f"mongodb://127.0.0.1:{port}"
    try:
        _wait_for_mongodb(uri, proc, log)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def mongodb_url(mongodb_server: str) -> Iterator[str]:
    """``mongodb://.../<fresh database>`` for one test; the database is dropped afterwards."""
    import pymongo

    name = f"agentel_test_{uuid.uuid4().hex[:12]}"
    yield f"{mongodb_server}/{name}"
    client = pymongo.MongoClient(mongodb_server, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(name)
    finally:
        client.close()
