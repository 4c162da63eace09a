"""8 processes x 4 threads write one SQLite store at once: no "database is locked", the exact
span count, and every run's rollups equal to what its agent did."""

from __future__ import annotations

import json
import subprocess
import sys

from agentel.store import open_store
from tests.faults.conftest import child_env, write_script

PROCESSES, THREADS, RUNS, CALLS = 8, 4, 6, 3
SPANS_PER_RUN = 1 + 2 * CALLS  # the agent span, and per call one llm and one tool span

WORKER = """
import json, sys, threading
import agentel.sdk
from agentel.instrumentation import agent, llm, tool

url, proc = sys.argv[1], int(sys.argv[2])
threads, runs, calls = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
handle = agentel.sdk.configure(url, instrument=None, service_name=f"worker-{proc}")

def work(thread):
    for run in range(runs):
        with agent(f"p{proc}-t{thread}-r{run}", model="gpt-4o-mini"):
            for call in range(calls):
                with llm("gpt-4o-mini", "openai") as handle_:
                    handle_.set_usage(input_tokens=100 * (proc + 1), output_tokens=thread + call + 1)
                with tool("lookup"):
                    pass

workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
handle.shutdown(60_000)
print(json.dumps({"failed": handle.exporter.failed_spans,
                  "exported": handle.exporter.exported_spans}))
"""


def test_8_processes_x_4_threads_write_one_sqlite_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = write_script(tmp_path, WORKER)
    # small batches, exported often: many concurrent transactions on the one file
    env = child_env(OTEL_BSP_SCHEDULE_DELAY="5", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="16")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(p), str(THREADS), str(RUNS), str(CALLS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for p in range(PROCESSES)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        assert "locked" not in err and "agentel:" not in err, err
        reports.append(json.loads(out))
    assert all(r["failed"] == 0 for r in reports), reports

    with open_store(url) as store:
        runs = {r["agent_name"]: r for r in store.runs(limit=None)}
        spans = [s for r in runs.values() for s in store.spans(run_id=r["run_id"])]
    assert len(runs) == PROCESSES * THREADS * RUNS
    assert len(spans) == PROCESSES * THREADS * RUNS * SPANS_PER_RUN
    for p in range(PROCESSES):
        for t in range(THREADS):
            for r in range(RUNS):
                run = runs[f"p{p}-t{t}-r{r}"]
                expected = {
                    "status": "ok",
                    "span_count": SPANS_PER_RUN,
                    "llm_calls": CALLS,
                    "tool_calls": CALLS,
                    "input_tokens": 100 * (p + 1) * CALLS,
                    "output_tokens": sum(t + c + 1 for c in range(CALLS)),
                    "service_name": f"worker-{p}",
                    "models": ["gpt-4o-mini"],
                }
                assert {k: run[k] for k in expected} == expected, run["agent_name"]
                assert run["cost_usd"] > 0 and run["unpriced_calls"] == 0
