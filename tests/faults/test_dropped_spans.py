"""Spans the SDK's batch queue cannot hold are counted, recorded on the store and shown.

Issue 14 item 4: 4 threads ending 25,000 spans each, flat out, into a queue too small to hold
them. Every span ended is either stored or counted: in ``failed_spans``, in the
``agentel.exporter.dropped_spans`` metric, on the store (``dropped_spans()``) and in
``agentel stats``; ``force_flush()`` says False.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

from agentel.store import open_store
from tests.faults.conftest import run_child

AGENT = """
import json, sys, threading
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
import agentel.sdk

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
handle = agentel.sdk.configure(sys.argv[1], instrument=None, service_name="flat-out")
tracer = trace.get_tracer("flat-out")

def work(number):
    for run in range(5_000):
        with tracer.start_as_current_span(
            "invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent",
                                        "gen_ai.agent.name": f"t{number}"}):
            for _ in range(4):
                with tracer.start_as_current_span("step"):
                    pass

threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
flushed = handle.force_flush()
metric = sum(
    point.value
    for rm in reader.get_metrics_data().resource_metrics
    for sm in rm.scope_metrics for m in sm.metrics
    if m.name == "agentel.exporter.dropped_spans" for point in m.data.data_points
)
print(json.dumps({"flushed": flushed, "failed": handle.exporter.failed_spans,
                  "exported": handle.exporter.exported_spans, "metric": metric}))
handle.shutdown()
"""


def test_every_span_the_batch_queue_drops_is_counted_recorded_and_shown(tmp_path):
    url = f"sqlite:///{tmp_path / 'flat.db'}"
    # a queue of 2,000 cannot keep up with 4 threads ending spans flat out
    out = run_child(tmp_path, AGENT, url, timeout=300, OTEL_BSP_MAX_QUEUE_SIZE="2000")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["failed"] > 0, report
    assert report["flushed"] is False
    assert report["metric"] == report["failed"]
    assert "dropped" in out.stderr and out.stderr.count("agentel: dropped") == 1, out.stderr
    with sqlite3.connect(tmp_path / "flat.db") as db:  # a dropped root's live snapshot aside
        (ended,) = db.execute("SELECT count(*) FROM spans WHERE end_ns IS NOT NULL").fetchone()
    assert ended + report["failed"] == 100_000
    with open_store(url) as store:
        drops = store.dropped_spans()
    assert [(d["dropped"], d["service_name"]) for d in drops] == [(report["failed"], "flat-out")]
    agentel = os.path.join(os.path.dirname(sys.executable), "agentel")
    stats = subprocess.run(
        [agentel, "stats", "--store", url, "--by", "agent"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert stats.returncode == 0, stats.stderr
    assert f"{report['failed']} span(s) dropped in process {drops[0]['pid']}" in stats.stdout


ZERO_CODE_AGENT = """
import threading
from opentelemetry import trace

tracer = trace.get_tracer("flat-out")

def work(number):
    for run in range(1_250):
        with tracer.start_as_current_span(
            "invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent",
                                        "gen_ai.agent.name": f"t{number}"}):
            with tracer.start_as_current_span("step"):
                pass

threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_drops_are_counted_under_opentelemetry_instrument_too(tmp_path):
    """Zero-code set-up (``OTEL_TRACES_EXPORTER=agentel_sqlite``) gets the counting batch
    processor: every span ended is stored or recorded as dropped on the store."""
    url = f"sqlite:///{tmp_path / 'zero.db'}"
    script = tmp_path / "agent.py"
    script.write_text(ZERO_CODE_AGENT)
    instrument = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "agentel_sqlite",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-flat-out",
        "OTEL_BSP_MAX_QUEUE_SIZE": "1000",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        "AGENTEL_STORE": url,
    }
    out = subprocess.run(
        [instrument, sys.executable, str(script)],
        env=env, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("agentel: dropped") == 1, out.stderr
    with sqlite3.connect(tmp_path / "zero.db") as db:
        (ended,) = db.execute("SELECT count(*) FROM spans WHERE end_ns IS NOT NULL").fetchone()
    with open_store(url) as store:
        drops = store.dropped_spans()
    assert len(drops) == 1 and drops[0]["service_name"] == "zero-flat-out", drops
    assert drops[0]["dropped"] > 0
    assert ended + drops[0]["dropped"] == 10_000
