"""agentel never traces its own writes (issue 14 item 5).

Under ``opentelemetry-instrument`` every installed instrumentation is on, including those
of pymongo, sqlite3, requests and urllib3 (dev dependencies). The store exporter, its retry
thread, the live-run thread and the OTLP exporter all write through those libraries; every
such write runs under ``suppress_instrumentation``, so the store and the OTLP receiver hold
exactly the application's spans and no ``find``/``insert``/``POST`` span of agentel's own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agentel.sdk.receiver import OTLPReceiver
from agentel.store import open_store
from tests.faults.conftest import child_env, write_script

RUNS = 5

AGENT = f"""
import sys
from agentel.instrumentation import agent, tool
if sys.argv[1] != "zero-code":
    import agentel.sdk
    handle = agentel.sdk.configure(sys.argv[2], otlp=sys.argv[3], instrument=None)
for number in range({RUNS}):
    with agent("worker"):
        with tool("lookup"):
            pass
if sys.argv[1] != "zero-code":
    handle.shutdown()
"""

INSTRUMENTED = ("pymongo", "sqlite3", "requests", "urllib3")


@pytest.mark.parametrize("how", ["zero-code", "configure"])
@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
def test_no_span_of_agentel_own_writes_is_recorded(how, backend, tmp_path, request):

    url = (
        f"sqlite:///{tmp_path / 'agent.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("mongodb_url")
    )
    instrument = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    received = open_store("memory://")
    with OTLPReceiver(received, port=0) as receiver:
        env = child_env(
            OTEL_TRACES_EXPORTER=f"agentel_{backend}" if how == "zero-code" else "none",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            AGENTEL_STORE=url,
        )
        script = write_script(tmp_path, AGENT)
        out = subprocess.run(
            [instrument, sys.executable, str(script), how, url, receiver.endpoint.removesuffix("/v1/traces")],
            capture_output=True, text=True, env=env, timeout=180, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
    with open_store(url) as store:
        runs = store.runs(limit=None)
        spans = [s for r in runs for s in store.spans(run_id=r["run_id"])]
        everything = store.export()
        stored = [r.name for r in everything]
    assert len(runs) == RUNS, [r["agent_name"] for r in runs]
    assert len(stored) == 2 * RUNS, sorted(stored)
    assert all(s["attributes"].get("db.system") is None for s in spans)
    if how == "configure":
        names = [r.name for r in received.export()]
        assert len(names) == 2 * RUNS, sorted(names)
