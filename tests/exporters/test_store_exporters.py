"""The store exporters and the live-run processor, driven by the real OpenTelemetry SDK."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentel.exporters.mongodb import MongoSpanExporter
from agentel.exporters.processor import LiveRunSpanProcessor, RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import open_store


def _provider(
    exporter, *, live: bool = False
) -> tuple[TracerProvider, LiveRunSpanProcessor | None]:
    provider = TracerProvider()
    provider.add_span_processor(RunIdSpanProcessor())
    processor = LiveRunSpanProcessor(exporter) if live else None
    if processor is not None:
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, processor


def _agent_with_a_call(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span(
            "invoke_agent bot", attributes={"gen_ai.operation.name": "invoke_agent"}
        ),
        tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 100,
            },
        ),
    ):
        pass


def test_mongo_exporter_reads_agentel_store(monkeypatch, mongodb_url):
    monkeypatch.setenv("AGENTEL_STORE", mongodb_url)
    exporter = MongoSpanExporter()
    assert exporter.url == mongodb_url
    provider, _ = _provider(exporter)
    _agent_with_a_call(provider)
    provider.shutdown()
    assert exporter.exported_spans == 2 and exporter.failed_spans == 0
    with open_store(mongodb_url) as store:
        (run,) = store.runs()
    assert (run["agent_name"], run["input_tokens"], run["llm_calls"]) == ("bot", 1000, 1)
    assert run["cost_usd"] == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)


def test_exporters_fall_back_to_their_default_and_reject_the_other_scheme(monkeypatch, tmp_path):
    monkeypatch.delenv("AGENTEL_STORE", raising=False)
    assert MongoSpanExporter().url == "mongodb://localhost:27017/agentel"
    assert SQLiteSpanExporter().url == "sqlite:///agentel.db"
    monkeypatch.setenv("AGENTEL_STORE", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match=r"mongodb store URL; got 'sqlite:///"):
        MongoSpanExporter()
    with pytest.raises(ValueError, match="'mongodb://h/db'"):
        SQLiteSpanExporter("mongodb://h/db")


def test_unreachable_mongodb_fails_fast_buffers_then_drops_counted_and_logged_once(caplog):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exporter = MongoSpanExporter(
        f"mongodb://user:secret@127.0.0.1:{port}/x", server_selection_timeout_ms=300
    )
    provider, _ = _provider(exporter)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="agentel.exporters"):
        _agent_with_a_call(provider)  # never raises into the application
        _agent_with_a_call(provider)
        assert time.monotonic() - started < 10
        assert (exporter.buffered_spans, exporter.exported_spans) == (4, 0)  # held for retry
        provider.shutdown()
    assert exporter.failed_spans == 4 and exporter.buffered_spans == 0
    (record,) = [r for r in caplog.records if r.name == "agentel.exporters"]
    assert "cannot reach MongoDB" in record.getMessage()
    assert "secret" not in record.getMessage()


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
def test_live_run_shows_running_with_pid_then_finished(backend, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'live.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("mongodb_url")
    )
    exporter = SQLiteSpanExporter(url) if backend == "sqlite" else MongoSpanExporter(url)
    provider, live = _provider(exporter, live=True)
    tracer = provider.get_tracer("test")
    reader = open_store(url)
    with tracer.start_as_current_span(
        "invoke_agent bot",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bot"},
    ):
        assert live.force_flush(10_000)
        (run,) = reader.runs()
        assert (run["status"], run["agent_name"], run["end_time"]) == ("running", "bot", None)
        assert (run["pid"], run["host"]) == (os.getpid(), socket.gethostname())
        with tracer.start_as_current_span("execute_tool t"):
            pass
    (run,) = reader.runs()
    assert (run["status"], run["span_count"]) == ("ok", 2)
    provider.shutdown()
    reader.close()


def test_a_crashed_process_leaves_an_abandoned_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    script = textwrap.dedent(
        f"""
        import os
        import agentel.sdk
        from agentel.instrumentation import agent

        handle = agentel.sdk.configure({url!r}, instrument=None)
        with agent("doomed"):
            handle.processors[1].force_flush(10_000)
            print(os.getpid(), flush=True)
            os._exit(3)  # a crash: no exit handlers, no flush
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 3, out.stderr
    with open_store(url) as store:
        (run,) = store.runs()
    # its pid is gone on this host: nobody can finish it (tests/faults/test_crash.py)
    assert (run["status"], run["agent_name"], run["pid"]) == (
        "abandoned",
        "doomed",
        int(out.stdout),
    )


def test_configure_memory_store_records_runs_in_process():
    import agentel.sdk
    from agentel.instrumentation import agent, tool

    handle = agentel.sdk.configure("memory://", instrument=None)
    try:
        with agent("mem-agent"), tool("t"):
            pass
        handle.force_flush()
        (run,) = [r for r in handle.store.runs() if r["agent_name"] == "mem-agent"]
        assert (run["status"], run["tool_calls"]) == ("ok", 1)
    finally:
        handle.shutdown()
