"""force_flush and shutdown honour their timeouts, and the flush at exit is bounded: a hung
MongoDB (a socket that accepts and never answers) or a SQLite file locked by another writer
cannot hang the application's exit. These are hang checks, not speed targets: the bounds
are generous multiples of the configured limits."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from agentel.store import open_store
from tests.faults.conftest import BlackHole, child_env, write_script

APP = """
import json, sys, time
import agentel.sdk
from agentel.instrumentation import agent, tool

url, mode = sys.argv[1], sys.argv[2]
handle = agentel.sdk.configure(url, instrument=None)
for n in range(3):
    with agent("stuck"), tool("t"):
        pass
timings = {}
if mode == "explicit":
    started = time.monotonic()
    timings["flushed"] = handle.force_flush(1_000)
    timings["flush_s"] = time.monotonic() - started
    started = time.monotonic()
    handle.shutdown(1_500)
    timings["shutdown_s"] = time.monotonic() - started
print(json.dumps(timings), flush=True)
# mode "exit": nothing else; the exit hook flushes with its own 5 s limit
"""


def _run(tmp_path, url: str, mode: str) -> tuple[dict, float]:
    script = write_script(tmp_path, APP)
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, str(script), url, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
        check=False,
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), elapsed


@pytest.mark.parametrize("mode", ["exit", "explicit"])
def test_a_hung_mongodb_cannot_hang_flush_shutdown_or_exit(tmp_path, black_hole: BlackHole, mode):
    timings, elapsed = _run(tmp_path, f"mongodb://127.0.0.1:{black_hole.port}/agentel", mode)
    assert black_hole.held, "the exporter never reached the hung server"
    assert elapsed < 30, f"the app took {elapsed:.1f}s to finish with a hung MongoDB"
    if mode == "explicit":
        assert timings["flushed"] is False
        assert timings["flush_s"] < 2.5 and timings["shutdown_s"] < 3, timings


def test_a_locked_sqlite_file_cannot_hang_exit(tmp_path):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    open_store(url).close()  # the file exists, in WAL mode
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock throughout
    try:
        timings, elapsed = _run(tmp_path, url, "explicit")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert timings["flushed"] is False
    assert timings["flush_s"] < 2.5 and timings["shutdown_s"] < 3, timings
    assert elapsed < 30, f"the app took {elapsed:.1f}s to finish with a locked store"
