"""Pre-fork servers: configure() in the parent, fork workers; every child's spans arrive,
through threads and connections of its own."""

from __future__ import annotations

import json
import os

import pytest

from agentel.store import open_store
from tests.faults.conftest import run_child

PRE_FORK_SERVER = """
import json, os, sys, threading
import agentel.sdk
from agentel.instrumentation import agent, tool

url, workers = sys.argv[1], int(sys.argv[2])
handle = agentel.sdk.configure(url, instrument=None, service_name="prefork")
with agent("parent"):  # the parent has exported, and so opened its store and threads
    with tool("warm-up"):
        pass
assert handle.force_flush(30_000)

children = []
for n in range(workers):
    pid = os.fork()
    if pid == 0:  # a worker
        try:
            with agent(f"child-{n}"):
                live = next(p for p in handle.processors if type(p).__name__ == "LiveRunSpanProcessor")
                assert live.force_flush(30_000)  # the running record goes out first
                (running,) = handle.store.runs(agent=f"child-{n}")
                with tool("work"):
                    pass
            threads = sorted(t.name for t in threading.enumerate())
            ok = handle.force_flush(30_000)
            report = {"pid": os.getpid(), "flushed": ok, "threads": threads,
                      "failed": handle.exporter.failed_spans,
                      "running": [running["status"], running["pid"]]}
            with open(f"child-{n}.json", "w") as out:
                json.dump(report, out)
        finally:
            if n % 2:
                os._exit(0)  # a worker killed off after its request: no exit hooks
        sys.exit(0)  # a worker that exits normally: the exit hook flushes
    children.append(pid)
for pid in children:
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
with agent("parent-after"):
    pass
handle.shutdown(30_000)
print(json.dumps({"pid": os.getpid(), "failed": handle.exporter.failed_spans}))
"""


@pytest.mark.parametrize("backend", ["sqlite", "mongodb"])
def test_pre_fork_workers_spans_arrive(backend, tmp_path, request):
    url = (
        f"sqlite:///{tmp_path / 'fork.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("mongodb_url")
    )
    workers = 3
    out = run_child(tmp_path, PRE_FORK_SERVER, url, str(workers), OTEL_BSP_SCHEDULE_DELAY="20")
    parent = json.loads(out.stdout)
    assert parent["failed"] == 0, out.stderr
    reports = [json.loads((tmp_path / f"child-{n}.json").read_text()) for n in range(workers)]
    for report in reports:
        assert report["flushed"] and report["failed"] == 0, report
        # the SDK's batch worker and our threads were started again in the child
        assert any(t.startswith("OtelBatchSpanRecordProcessor") for t in report["threads"])
        assert "agentel-live-runs" in report["threads"]
    with open_store(url) as store:
        runs = {r["agent_name"]: r for r in store.runs(limit=None)}
    assert set(runs) == {"parent", "parent-after"} | {f"child-{n}" for n in range(workers)}
    for n, report in enumerate(reports):
        run = runs[f"child-{n}"]
        assert (run["status"], run["tool_calls"], run["span_count"]) == ("ok", 1, 2)
        assert report["pid"] != parent["pid"]
        assert report["running"] == ["running", report["pid"]]  # the child's own pid
    assert runs["parent-after"]["status"] == "ok"
    assert os.getpid() not in {r["pid"] for r in reports}
