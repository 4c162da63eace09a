"""Run identity through `agentel receive`: roots that reuse span ids in other traces stay
separate runs (OTLP/JSON over real HTTP into a real SQLite store)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agentel.store import open_store

AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"
TRACES = 20
ROOTS = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _attribute(key: str, value: object) -> dict[str, object]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value)}}


def _trace(number: int) -> dict[str, object]:
    """One trace whose agent roots are numbered 1..ROOTS, as every other trace's are."""
    trace_id = f"{number:032x}"
    spans = []
    for root in range(1, ROOTS + 1):
        span_id = f"{root:016x}"
        spans.append({
            "traceId": trace_id, "spanId": span_id, "name": "invoke_agent bot",
            "startTimeUnixNano": str(root), "endTimeUnixNano": str(root + 10),
            "attributes": [_attribute("gen_ai.operation.name", "invoke_agent"),
                           _attribute("agentel.run.id", span_id),
                           _attribute("gen_ai.agent.name", f"agent-{number}")],
        })  # fmt: skip
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def test_roots_reusing_span_ids_in_other_traces_are_separate_runs(tmp_path):
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'received.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
    server = subprocess.Popen(
        [AGENTEL, "receive", "--store", url, "--port", str(port)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "agentel receive did not start"
                time.sleep(0.05)
        for number in range(1, TRACES + 1):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/traces",
                data=json.dumps(_trace(number)).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    with open_store(url) as store:
        runs = store.runs(limit=None)
        assert len(runs) == TRACES * ROOTS
        assert {r["run_id"][:32] for r in runs} == {f"{n:032x}" for n in range(1, TRACES + 1)}
        one = store.run(f"{7:032x}" + f"{3:016x}")
        assert (one["agent_name"], one["span_count"]) == ("agent-7", 1)
