"""A read-only or full SQLite location: one clear log line, and the application carries on."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agentel.exporters.processor import RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import open_store
from tests.faults.conftest import run_child

AGENT_APP = """
import sys
import agentel.sdk
from agentel.instrumentation import agent, tool

handle = agentel.sdk.configure(sys.argv[1], instrument=None)
total = 0
for n in range(20):
    with agent("busy"):
        with tool("add"):
            total += n
print("result", total, flush=True)
handle.shutdown(2_000)
print("dropped", handle.exporter.failed_spans, flush=True)
"""


@contextlib.contextmanager
def read_only_directory(path: Path) -> Iterator[Path]:
    """A directory nobody can create files in. Root ignores file modes, so as root it is a
    read-only tmpfs mount; otherwise a directory without write permission."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_a_read_only_location_logs_one_clear_line_and_the_app_carries_on(tmp_path):
    with read_only_directory(tmp_path / "readonly") as readonly:
        db = readonly / "agentel.db"
        out = run_child(tmp_path, AGENT_APP, f"sqlite:///{db}")
        assert not db.exists()
    # the app did its work; 20 runs x 2 spans + 20 live run records never found a home
    assert out.stdout.splitlines() == ["result 190", "dropped 60"]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    warning, error = lines  # nothing else: no traceback, no repeated complaint
    assert str(db) in warning and "buffering" in warning
    assert "Read-only file system" in warning or "Permission denied" in warning
    assert error.startswith("agentel: dropped 60 span(s)")


def test_a_full_database_buffers_logs_once_and_delivers_when_space_returns(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'full.db'}"
    exporter = SQLiteSpanExporter(url, max_retry_seconds=60)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(RunIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=10))
    tracer = provider.get_tracer("faults")
    agent = {"gen_ai.operation.name": "invoke_agent"}

    def run(name: str) -> None:
        with tracer.start_as_current_span(f"invoke_agent {name}", attributes=agent):
            for _ in range(50):
                with tracer.start_as_current_span("execute_tool fill") as span:
                    span.set_attribute("gen_ai.tool.call.result", "x" * 2_000)

    run("fits")
    provider.force_flush()
    store = exporter.store
    # the disk is full: SQLite may not grow the file by a single page
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with caplog.at_level(logging.WARNING, logger="agentel.exporters"):
        run("overflows")  # the application carries on
        provider.force_flush()
        assert exporter.buffered_spans == 51 and not exporter.force_flush(200)
        store.conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert exporter.force_flush(30_000)
    provider.shutdown()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "agentel.exporters"]
    assert "full.db" in line and "database or disk is full" in line
    assert exporter.failed_spans == 0
    with open_store(url) as reader:
        counts = {r["name"]: r["span_count"] for r in reader.runs()}
    assert counts == {"invoke_agent fits": 51, "invoke_agent overflows": 51}
    conn = sqlite3.connect(tmp_path / "full.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
