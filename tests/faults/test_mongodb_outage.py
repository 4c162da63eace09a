"""MongoDB goes away: the application never notices; spans wait in a bounded buffer and
arrive after the restart; with no server at all they are dropped, counted, logged once and
reported as a metric."""

from __future__ import annotations

import logging
import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agentel.exporters.mongodb import MongoSpanExporter
from agentel.exporters.processor import LiveRunSpanProcessor, RunIdSpanProcessor
from agentel.semconv.attributes import METRIC_AGENTEL_EXPORTER_DROPPED_SPANS
from agentel.store import open_store
from tests.faults.conftest import MongoServer, closed_port, wait_until

AGENT = {"gen_ai.operation.name": "invoke_agent"}
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 10,
}


def _provider(exporter: MongoSpanExporter, *, live: bool) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(RunIdSpanProcessor())
    if live:
        provider.add_span_processor(LiveRunSpanProcessor(exporter))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    return provider


def _agent_run(provider: TracerProvider, name: str, calls: int) -> float:
    """One run of ``calls`` LLM spans; returns the slowest span the application waited on."""
    tracer = provider.get_tracer("faults")
    slowest = 0.0
    started = time.perf_counter()
    with tracer.start_as_current_span(f"invoke_agent {name}", attributes=AGENT):
        slowest = time.perf_counter() - started
        for _ in range(calls):
            started = time.perf_counter()
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=CHAT):
                pass
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.002)
    return slowest


def test_mongodb_stopped_mid_run_and_restarted_delivers_everything(own_mongodb: MongoServer):
    url = f"{own_mongodb.uri}/outage"
    exporter = MongoSpanExporter(url, server_selection_timeout_ms=500, max_retry_seconds=120)
    provider = _provider(exporter, live=True)
    _agent_run(provider, "before", 3)
    provider.force_flush()
    assert exporter.force_flush(10_000)

    own_mongodb.stop()
    slowest = _agent_run(provider, "during", 60)
    provider.force_flush()  # the batch worker hands everything over without waiting
    started = time.monotonic()
    assert not exporter.force_flush(300)  # honours its timeout while the server is down
    assert time.monotonic() - started < 5
    assert exporter.buffered_spans >= 61  # the run, its calls (and its live record)

    own_mongodb.start()
    assert exporter.force_flush(30_000)  # retried and delivered after the restart
    assert (exporter.buffered_spans, exporter.failed_spans) == (0, 0)
    provider.shutdown()
    with open_store(url) as store:
        runs = {r["name"]: r for r in store.runs()}
    assert runs["invoke_agent before"]["llm_calls"] == 3
    during = runs["invoke_agent during"]
    assert (during["status"], during["llm_calls"], during["input_tokens"]) == ("ok", 60, 6000)
    assert slowest < 0.5, f"the application waited {slowest:.3f}s on a span"


def _dropped_metric(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    return sum(
        point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == METRIC_AGENTEL_EXPORTER_DROPPED_SPANS
        for point in metric.data.data_points
    )


def test_mongodb_down_from_the_start_drops_count_log_once_and_metric(caplog):
    reader = InMemoryMetricReader()
    exporter = MongoSpanExporter(
        f"mongodb://127.0.0.1:{closed_port()}/agentel",
        server_selection_timeout_ms=200,
        max_buffered_spans=20,
        max_retry_seconds=0.5,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    provider = _provider(exporter, live=False)
    slowest = 0.0
    with caplog.at_level(logging.WARNING, logger="agentel.exporters"):
        for n in range(10):  # 10 runs of 1 + 9 spans; the application runs normally
            slowest = max(slowest, _agent_run(provider, f"run-{n}", 9))
        provider.force_flush()
        wait_until(lambda: exporter.failed_spans >= 80, 30, "spans past the bounds dropped")
        provider.shutdown()
    assert (exporter.failed_spans, exporter.exported_spans, exporter.buffered_spans) == (100, 0, 0)
    assert _dropped_metric(reader) == 100
    records = [r for r in caplog.records if r.name == "agentel.exporters"]
    assert [r.levelname for r in records] == ["WARNING", "ERROR"], [r.getMessage() for r in records]
    assert "cannot reach MongoDB" in records[0].getMessage()
    assert "dropped" in records[1].getMessage()
    assert slowest < 0.5, f"the application waited {slowest:.3f}s on a span"
