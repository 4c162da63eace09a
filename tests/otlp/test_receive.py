"""`agentel receive`: the real OTLP exporters and hand-made bodies, into a real store."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from agentel.sdk.receiver import OTLPReceiver
from agentel.store import open_store

AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"

SPAN = {"traceId": "a" * 32, "spanId": "b" * 16, "name": "chat gpt-4o", "startTimeUnixNano": "1",
        "endTimeUnixNano": "2000001",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1000"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 100}},
        ]}  # fmt: skip


def document(*spans):
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "go-agent"}}]},
        "scopeSpans": [{"scope": {"name": "x"}, "spans": list(spans)}]}]}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, content_type="application/json", headers=None):
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def receiver(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'in.db'}")
    with OTLPReceiver(store, port=0, token="s3cret", max_body_bytes=64 * 1024) as running:
        yield running
    store.close()


AUTH = {"Authorization": "Bearer s3cret"}


def test_hand_made_json_and_gzip_are_ingested_with_cost(receiver):
    status, body = post(receiver.endpoint, json.dumps(document(SPAN)).encode(), headers=AUTH)
    assert (status, json.loads(body)) == (200, {})
    second = {**SPAN, "spanId": "c" * 16, "traceId": "d" * 32}
    status, _ = post(
        receiver.endpoint,
        gzip.compress(json.dumps(document(second)).encode()),
        headers={**AUTH, "Content-Encoding": "gzip"},
    )
    assert status == 200
    runs = receiver.store.runs()
    assert len(runs) == 2
    for run in runs:
        assert (run["input_tokens"], run["output_tokens"]) == (1000, 100)
        assert run["cost_usd"] == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6, abs=1e-12)
        assert run["service_name"] == "go-agent"


def test_bad_spans_get_partial_success_and_good_ones_are_kept(receiver):
    bad = {**SPAN, "spanId": "nothex!!", "name": "broken"}
    status, body = post(receiver.endpoint, json.dumps(document(SPAN, bad)).encode(), headers=AUTH)
    answer = json.loads(body)
    assert status == 200
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    assert "broken" in answer["partialSuccess"]["errorMessage"]
    assert len(receiver.store.spans(trace_id="a" * 32)) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "headers", "status", "message"),
    [
        (b"{not json", "application/json", AUTH, 400, "not valid JSON"),
        (b"[1, 2]", "application/json", AUTH, 400, "JSON object"),
        (b"\xff\x00garbage", "application/x-protobuf", AUTH, 400, "not an OTLP protobuf"),
        (b"x" * (65 * 1024), "application/json", AUTH, 413, "exceeds the 65536-byte limit"),
        (gzip.compress(b" " * (200 * 1024)), "application/json",
         {**AUTH, "Content-Encoding": "gzip"}, 413, "inflates beyond"),
        (b"not gzip", "application/json", {**AUTH, "Content-Encoding": "gzip"}, 400, "not valid gzip"),
        (b"{}", "text/plain", AUTH, 415, "unsupported Content-Type 'text/plain'"),
        (b"{}", "application/json", {"Authorization": "Bearer nope"}, 401, "bearer token"),
        (b"{}", "application/json", {}, 401, "bearer token"),
    ],
)  # fmt: skip
def test_bad_bodies_get_their_documented_answer(
    receiver, body, content_type, headers, status, message
):
    got, answer = post(receiver.endpoint, body, content_type, headers)
    assert got == status
    assert message in json.loads(answer)["message"]
    assert receiver.store.runs() == []


def test_wrong_path_is_404(receiver):
    status, answer = post(receiver.endpoint.replace("/v1/traces", "/v1/logs"), b"{}", headers=AUTH)
    assert status == 404 and "/v1/logs" in json.loads(answer)["message"]


SENDER = """
import sys
import openai
import agentel.sdk
from agentel.instrumentation import agent, tool
from agentel.testing import ScriptedLLMServer

handle = agentel.sdk.configure(sys.argv[1], otlp=sys.argv[2], service_name="sender")
with ScriptedLLMServer() as server:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    for city in ("Paris", "Oslo"):
        with agent("courier", model="gpt-4o-mini"):
            client.chat.completions.create(model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Weather in " + city + "?"}])
            with tool("lookup"):
                pass
handle.shutdown()
"""


def test_cli_receiver_gets_identical_runs_from_a_real_otlp_exporter(tmp_path):
    port = free_port()
    received_url = f"sqlite:///{tmp_path / 'received.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
    server = subprocess.Popen(
        [AGENTEL, "receive", "--store", received_url, "--port", str(port)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "agentel receive did not start"
                time.sleep(0.05)
        local_url = f"sqlite:///{tmp_path / 'local.db'}"
        script = tmp_path / "sender.py"
        script.write_text(SENDER)
        out = subprocess.run(
            [sys.executable, str(script), local_url, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=120, env=env, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert "received 6 span(s), rejected 0" in stderr
    with open_store(local_url) as local, open_store(received_url) as received:
        assert len(local.runs()) == 2
        assert received.runs() == local.runs()  # same run ids, tokens, cost, everything
        for run in local.runs():
            assert received.spans(run_id=run["run_id"]) == local.spans(run_id=run["run_id"])


def test_protobuf_response_carries_partial_success(receiver):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[
        Span(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="ok", start_time_unix_nano=5),
        Span(trace_id=b"\x01" * 16, span_id=b"\x03" * 3, name="short"),
    ])])])  # fmt: skip
    status, body = post(
        receiver.endpoint, request.SerializeToString(), "application/x-protobuf", AUTH
    )
    assert status == 200
    answer = ExportTraceServiceResponse.FromString(body)
    assert answer.partial_success.rejected_spans == 1
    assert "short" in answer.partial_success.error_message
    assert [s["name"] for s in receiver.store.spans(trace_id="01" * 16)] == ["ok"]
