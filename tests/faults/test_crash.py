"""kill -9 in the middle of a run: the file is intact, every exported batch is there, and the
run shows as running while its process lives, then as abandoned. On MongoDB (no
transactions), writers killed again and again leave no run that disagrees with its spans."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agentel.store import Store, open_store
from agentel.store.memory import MemoryStore
from tests.faults.conftest import child_env, wait_until, write_script
from tests.store.store_helpers import TRACE, rec

AGENTEL = str(Path(sys.executable).parent / "agentel")

CRASHY_AGENT = """
import os, sys, time
import agentel.sdk
from agentel.instrumentation import agent, llm, tool

url, report = sys.argv[1], sys.argv[2]
handle = agentel.sdk.configure(url, instrument=None, service_name="crashy")
exporter = handle.exporter
fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
write = exporter.write

def write_and_report(records):
    # a batch counts as exported once the store has committed it
    ok = write(records)
    if ok and exporter.buffered_spans == 0:
        done = [f"{r.trace_id}:{r.span_id}" for r in records if r.end_ns is not None]
        os.write(fd, "".join(line + "\\n" for line in done).encode())
    return ok

exporter.write = write_and_report
with agent("crashy", model="gpt-4o-mini"):
    while True:  # until the test kills us
        with tool("step"):
            pass
        with llm("gpt-4o-mini", "openai") as call:
            call.set_usage(input_tokens=10, output_tokens=2)
        time.sleep(0.001)
"""


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_kill_9_mid_run_loses_no_exported_batch_and_leaves_an_abandoned_run(tmp_path):
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    report = tmp_path / "exported.txt"
    script = write_script(tmp_path, CRASHY_AGENT)
    env = child_env(OTEL_BSP_SCHEDULE_DELAY="10", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="40")
    child = subprocess.Popen(
        [sys.executable, str(script), url, str(report)], env=env, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: len(_lines(report)) >= 400 or child.poll() is not None, 60, "exports")
        assert child.poll() is None, child.stderr.read().decode()
        with open_store(url) as store:  # while the agent lives, its run is running
            (run,) = store.runs()
        assert (run["status"], run["pid"], run["host"]) == (
            "running",
            child.pid,
            socket.gethostname(),
        )
        child.send_signal(signal.SIGKILL)  # mid-run, most likely mid-batch
    finally:
        child.kill()
        child.wait(30)
    exported = set(_lines(report))

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with open_store(url) as store:
        (run,) = store.runs()
        stored = {f"{s['trace_id']}:{s['span_id']}" for s in store.spans(trace_id=run["trace_id"])}
    assert exported <= stored, f"{len(exported - stored)} exported spans are missing"
    assert (run["status"], run["pid"], run["agent_name"]) == ("abandoned", child.pid, "crashy")
    assert run["llm_calls"] >= 100 and run["input_tokens"] == 10 * run["llm_calls"]

    def cli_runs(status: str) -> list[dict]:
        out = subprocess.run(
            [AGENTEL, "runs", "--store", url, "--status", status, "--format", "json"],
            capture_output=True, text=True, env=child_env(), timeout=60, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)

    assert [r["run_id"] for r in cli_runs("abandoned")] == [run["run_id"]]
    assert cli_runs("running") == []


def test_a_running_run_becomes_abandoned_when_its_process_is_gone(
    store: Store, open_backend: Callable[[], Store]
) -> None:
    """On every backend: at open, on ingest, and through mark_abandoned()."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    here = {"process.pid": sleeper.pid, "host.name": socket.gethostname()}
    elsewhere = {"process.pid": sleeper.pid, "host.name": "another-host.example"}
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bot"}
    mine, theirs = "a" * 16, "b" * 16
    now = time.time_ns()  # the runs start after their process did
    try:
        store.ingest(
            [
                rec(
                    mine,
                    None,
                    start=now,
                    end=None,
                    resource=here,
                    **{"agentel.run.id": mine},
                    **agent,
                ),
                rec(
                    theirs,
                    None,
                    start=now,
                    end=None,
                    trace_id="cd" * 16,
                    resource=elsewhere,
                    **agent,
                ),
            ]
        )
        assert {r["run_id"]: r["status"] for r in store.runs()} == {
            TRACE + mine: "running",
            "cd" * 16 + theirs: "running",
        }
        assert store.mark_abandoned() == []
    finally:
        sleeper.kill()
        sleeper.wait(30)

    if not isinstance(store, MemoryStore):  # a store opened now sees it at once
        assert open_backend().run(TRACE + mine)["status"] == "abandoned"
    assert store.mark_abandoned() in ([TRACE + mine], [])  # [] when the open above persisted it
    assert [r["run_id"] for r in store.runs(status="abandoned")] == [TRACE + mine]
    assert [r["run_id"] for r in store.runs(status="running")] == [
        "cd" * 16 + theirs
    ]  # not our host

    late = rec("1" * 16, mine, start=now + 5, end=now + 6, **{"agentel.run.id": mine})
    store.ingest([late])  # a straggler recomputes the run: it stays abandoned
    assert store.run(TRACE + mine)["status"] == "abandoned"
    assert store.run(TRACE + mine)["span_count"] == 2

    finished = rec(
        mine, None, start=now, end=now + 500, resource=here, **{"agentel.run.id": mine}, **agent
    )
    store.ingest([finished])  # a finished top span always wins
    assert store.run(TRACE + mine)["status"] == "ok"


def test_this_process_and_a_recycled_pid_are_judged_correctly() -> None:
    from agentel.store.liveness import is_abandoned, process_alive

    host = socket.gethostname()
    assert not is_abandoned("running", os.getpid(), host, 0)
    assert process_alive(os.getppid())
    # pid 1 exists, but a run that started in 1970 cannot be its: the pid was recycled
    assert process_alive(1) and process_alive(1, time.time_ns()) and not process_alive(1, 0)
    assert not is_abandoned("ok", 999_999_999, host, 0)
    assert is_abandoned("running", 2**22 + 12_345, host, 0)  # beyond pid_max: no such process


BUSY_AGENT = """
import os, sys, time
import agentel.sdk
from agentel.instrumentation import agent, llm, tool

url, report = sys.argv[1], sys.argv[2]
handle = agentel.sdk.configure(url, instrument=None, service_name="crashy")
exporter = handle.exporter
fd = os.open(report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
write = exporter.write

def write_and_report(records):
    ok = write(records)
    os.write(fd, b"batch\\n")
    return ok

exporter.write = write_and_report
while True:  # until the test kills us: runs of 7 spans, written 4 spans a batch
    with agent("crashy", model="gpt-4o-mini"):
        with tool("lookup"):
            pass
        for _ in range(5):
            with llm("gpt-4o-mini", "openai") as call:
                call.set_usage(input_tokens=10, output_tokens=2)
    time.sleep(0.05)  # leave the exporter thread the GIL: it writes while we produce
"""

KILL_AT_THE_WORST_MOMENT = """
import os, signal, sys
import pymongo.collection
import agentel.sdk
from agentel.instrumentation import agent, llm

Collection = pymongo.collection.Collection
calls_written = []

def die_before_the_run(write):
    def wrapper(self, requests, *args, **kwargs):
        if self.name == "runs" and calls_written:
            os.kill(os.getpid(), signal.SIGKILL)  # the spans are stored, their run is not
        if self.name == "spans" and any(
            isinstance(d, dict) and d.get("category") == "llm" for d in requests
        ):
            calls_written.append(True)
        return write(self, requests, *args, **kwargs)
    return wrapper

Collection.insert_many = die_before_the_run(Collection.insert_many)
Collection.bulk_write = die_before_the_run(Collection.bulk_write)
handle = agentel.sdk.configure(sys.argv[1], instrument=None, service_name="crashy")
with agent("crashy", model="gpt-4o-mini"):
    for _ in range(5):
        with llm("gpt-4o-mini", "openai") as call:
            call.set_usage(input_tokens=10, output_tokens=2)
handle.shutdown()
"""


def rollup_mismatches(store: Store) -> list[str]:
    """Runs whose rollup disagrees with their stored spans, counted here from the spans alone,
    and spans whose run has no run record."""
    runs = {r["run_id"]: r for r in store.runs(limit=None)}
    by_run: dict[str, list[dict]] = {}
    for span in store.spans():
        by_run.setdefault(span["run_id"], []).append(span)
    found = [
        f"{len(s)} spans of run {r} but no run record" for r, s in by_run.items() if r not in runs
    ]
    for run_id, spans in by_run.items():
        run = runs.get(run_id)
        calls = [s for s in spans if s["category"] == "llm" and s["counted"]]
        tools = [s for s in spans if s["category"] == "tool"]
        expected = (len(spans), len(calls), len(tools), sum(s["input_tokens"] for s in calls))
        held = (
            (run["span_count"], run["llm_calls"], run["tool_calls"], run["input_tokens"])
            if run
            else None
        )
        if run is not None and held != expected:
            found.append(
                f"run {run_id}: (spans, llm, tool calls, input tokens) {held} != {expected}"
            )
    return found


def _kill_mid_write(script: Path, url: str, report: Path, batches: int, pause: float) -> None:
    """Start a writer, let it write ``batches`` batches, wait ``pause`` s and kill it."""
    env = child_env(OTEL_BSP_SCHEDULE_DELAY="5", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4")
    child = subprocess.Popen(
        [sys.executable, str(script), url, str(report)], env=env, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: len(_lines(report)) >= batches or child.poll() is not None, 60, "writes")
        assert child.poll() is None, child.stderr.read().decode()
        time.sleep(pause)
        child.send_signal(signal.SIGKILL)  # mid-batch: between spans and their run, mostly
    finally:
        child.kill()
        child.wait(30)


def test_mongodb_writers_killed_again_and_again_leave_every_run_agreeing_with_its_spans(
    tmp_path, mongodb_url
):
    """Each writer is killed (SIGKILL) while it writes batch after batch; the next writer's
    open finishes what the killed one left, and so does any store opened afterwards.
    (Before: after 20 kills, 15 runs disagreed with their spans and 15 had no run record.)"""
    import pymongo

    script = write_script(tmp_path, BUSY_AGENT)
    rng = random.Random(14)
    kills = 6
    for round_ in range(kills):
        report = tmp_path / f"batches-{round_}.txt"
        _kill_mid_write(script, mongodb_url, report, rng.randint(3, 15), rng.uniform(0, 0.02))
    with open_store(mongodb_url) as store:  # finishes the last writer's interrupted write
        assert len(store.runs(limit=None)) >= kills
        assert rollup_mismatches(store) == []
        checked = store.doctor()
        assert (checked["problems"], checked["remaining"]) == ([], [])
    client = pymongo.MongoClient(mongodb_url)
    try:
        assert client.get_default_database().pending_runs.count_documents({}) == 0
    finally:
        client.close()


def test_mongodb_writer_killed_between_its_spans_and_its_run_is_repaired_on_open(
    tmp_path, mongodb_url
):
    """The worst moment, every time: the spans of a batch are stored and the process dies
    before the run is written. The intent it wrote first makes the next open recompute the
    run, and `agentel doctor` then finds nothing."""
    script = write_script(tmp_path, KILL_AT_THE_WORST_MOMENT)
    child = subprocess.run(
        [sys.executable, str(script), mongodb_url],
        env=child_env(OTEL_BSP_SCHEDULE_DELAY="60000"),  # one batch, at shutdown
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    with open_store(mongodb_url) as store:
        (run,) = store.runs()
        assert rollup_mismatches(store) == []
    assert (run["span_count"], run["llm_calls"], run["input_tokens"]) == (6, 5, 50)
    assert run["status"] == "ok"
    doctor = subprocess.run(
        [AGENTEL, "doctor", "--store", mongodb_url, "--format", "json"],
        capture_output=True, text=True, env=child_env(), timeout=120, check=False,
    )  # fmt: skip
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert json.loads(doctor.stdout)["problems"] == []
