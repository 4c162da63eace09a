"""Runs stuck ``running`` forever (issue 14 item 3): a 2 s burst of runs overflows the
live-run queue, and the process is killed with runs still open.

Before: the queue dropped most ``running`` records, and an open run whose record was dropped
showed ``running`` for ever, with no pid, host or agent name. Now the record of such a run is
written with its first spans, the drops are counted on the store and shown by ``agentel
stats``, no finished run is left ``running``, and the open runs are ``abandoned`` once the
process is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from agentel.store import open_store
from tests.faults.conftest import child_env, wait_until, write_script

BURST = """
import json, sys, threading, time
from opentelemetry import context, trace
import agentel.sdk

handle = agentel.sdk.configure(sys.argv[1], instrument=None, service_name="burst")
tracer = trace.get_tracer("burst")
AGENT = {"gen_ai.operation.name": "invoke_agent"}
open_runs, finished = [], [0]

def work(number):
    deadline = time.monotonic() + 2.0
    count = 0
    while time.monotonic() < deadline:
        count += 1
        top = tracer.start_span("invoke_agent", attributes={**AGENT, "gen_ai.agent.name": f"t{number}"})
        inside = trace.set_span_in_context(top)
        for _ in range(2):
            tracer.start_span("step", context=inside).end()
        if count % 50 == 0:
            open_runs.append(top)  # left running: the process dies with it
        else:
            top.end()
            finished[0] += 1

threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
flushed = handle.force_flush(60_000)
print(json.dumps({"finished": finished[0], "open": len(open_runs), "flushed": flushed,
                  "live_dropped": handle.exporter.dropped_live_runs,
                  "failed": handle.exporter.failed_spans}), flush=True)
time.sleep(600)  # until the test kills us
"""


def test_a_burst_that_overflows_the_live_queue_leaves_no_run_running(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    script = write_script(tmp_path, BURST)
    child = subprocess.Popen(
        [sys.executable, str(script), url],
        env=child_env(OTEL_BSP_SCHEDULE_DELAY="50"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line, child.stderr.read()  # type: ignore[union-attr]
        report = json.loads(line)
        assert report["flushed"] and report["failed"] == 0, report
        assert report["live_dropped"] > 0, report  # the queue did overflow
        assert report["open"] > 0
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    wait_until(lambda: not os.path.exists(f"/proc/{child.pid}"), 30, "the child to be gone")

    with open_store(url) as store:
        runs = store.runs(limit=None)
        drops = store.dropped_spans()
    statuses = [r["status"] for r in runs]
    assert statuses.count("ok") == report["finished"], report
    assert statuses.count("abandoned") == report["open"], report
    assert "running" not in statuses
    for run in runs:  # every run names its agent; every open one, its process
        assert run["agent_name"] in ("t0", "t1"), run
        if run["status"] == "abandoned":
            assert (run["pid"], run["host"]) == (child.pid, socket.gethostname()), run
    assert [(d["pid"], d["dropped"], d["live_runs"]) for d in drops] == [
        (child.pid, 0, report["live_dropped"])
    ]
    agentel = Path(sys.executable).parent / "agentel"
    stats = subprocess.run(
        [str(agentel), "stats", "--store", url, "--by", "agent"],
        capture_output=True, text=True, env=child_env(), timeout=120, check=False,
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert f"{report['live_dropped']} live-run record(s) dropped in process {child.pid}" in (
        stats.stdout
    )
