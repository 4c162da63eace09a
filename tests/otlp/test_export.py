"""configure(otlp=...) and OTEL_TRACES_EXPORTER=agentel_sqlite,otlp: the real OTLP exporters
(gRPC and HTTP) send to test receivers that decode with opentelemetry-proto."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from agentel.sdk.receiver import OTLPReceiver
from agentel.store import open_store, otlp_json
from tests.otlp.test_receive import SENDER

PLAIN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}


def run_sender(tmp_path: Path, *args: str, env: dict[str, str] | None = None, script=SENDER):
    path = tmp_path / "sender.py"
    path.write_text(script)
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**PLAIN_ENV, **(env or {})},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return time.monotonic() - started


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A gRPC OTLP trace service that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class MetricsCollector(metrics_service_pb2_grpc.MetricsServiceServicer):
    """A gRPC OTLP metrics service that keeps what it is sent."""

    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def points(self, name: str) -> list:
        """The data points of ``name`` in the last export (temporality is cumulative)."""
        exports = [
            [
                point
                for resource in request.resource_metrics
                for scope in resource.scope_metrics
                for metric in scope.metrics
                if metric.name == name
                for point in (*metric.histogram.data_points, *metric.sum.data_points)
            ]
            for request in self.requests
        ]
        return next((points for points in reversed(exports) if points), [])


def test_grpc_collector_receives_exactly_what_the_store_holds(tmp_path):
    collector, metrics = Collector(), MetricsCollector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(metrics, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        local = f"sqlite:///{tmp_path / 'local.db'}"
        run_sender(
            tmp_path, local, f"http://127.0.0.1:{port}", env={"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )
    finally:
        server.stop(grace=None)
    records = []
    for request in collector.requests:
        decoded, errors = otlp_json.decode(MessageToDict(request))
        assert errors == []
        records += decoded
    assert len(records) == 6
    with open_store(local) as store:
        stored = {s["span_id"]: s for r in store.runs() for s in store.spans(run_id=r["run_id"])}
    assert len(stored) == 6
    for record in records:
        mine = stored[record.span_id]
        assert record.attributes == mine["attributes"]  # cost attributes included
        assert (record.input_tokens, record.cost_usd) == (mine["input_tokens"], mine["cost_usd"])

    # metrics went out over OTLP too: token usage, duration and cost agree with the store
    llm_spans = [s for s in stored.values() if s["category"] == "llm"]
    tokens = metrics.points("gen_ai.client.token.usage")
    assert sum(p.sum for p in tokens) == sum(
        s["input_tokens"] + s["output_tokens"] for s in llm_spans
    )
    assert sum(p.count for p in metrics.points("gen_ai.client.operation.duration")) == 2
    cost = sum(p.as_double for p in metrics.points("agentel.client.cost"))
    assert cost == pytest.approx(sum(s["cost_usd"] for s in llm_spans), abs=1e-12)


def test_zero_code_tees_to_the_store_and_an_otlp_http_endpoint(tmp_path):
    received = open_store(f"sqlite:///{tmp_path / 'received.db'}")
    with OTLPReceiver(received, port=0) as receiver:
        script = SENDER.replace(
            'handle = agentel.sdk.configure(sys.argv[1], otlp=sys.argv[2], service_name="sender")',
            "",
        ).replace("handle.shutdown()", "")
        host, port = receiver.address
        local = f"sqlite:///{tmp_path / 'local.db'}"
        instrument = str(Path(sys.executable).parent / "opentelemetry-instrument")
        path = tmp_path / "zero.py"
        path.write_text(script)
        out = subprocess.run(
            [instrument, sys.executable, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={
                **PLAIN_ENV,
                "OTEL_TRACES_EXPORTER": "agentel_sqlite,otlp",
                "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",  # foreign ones in the dev extra
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host}:{port}",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "AGENTEL_STORE": local,
            },
        )
        assert out.returncode == 0, out.stderr
    with open_store(local) as mine:
        assert len(mine.runs()) == 2
        assert received.runs() == mine.runs()
    received.close()


def black_hole() -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener, held


def test_a_collector_that_never_answers_costs_the_agent_nothing(tmp_path):
    listener, held = black_hole()
    port = listener.getsockname()[1]
    local = f"sqlite:///{tmp_path / 'local.db'}"
    try:
        elapsed = run_sender(
            tmp_path, local, f"http://127.0.0.1:{port}", env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"}
        )
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert held, "the exporter never tried the collector"
    with open_store(local) as store:
        runs = store.runs()
    assert len(runs) == 2 and all(r["llm_calls"] == 1 and r["tool_calls"] == 1 for r in runs)
    assert elapsed < 30, f"exit took {elapsed:.1f}s with a silent collector"
