"""configure(): the one-liner, in fresh processes (it sets the global tracer provider)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agentel.store import open_store


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_spans_are_flushed_at_exit_without_shutdown(tmp_path: Path) -> None:
    code = """
import agentel.sdk
from agentel.instrumentation import agent, tool
agentel.sdk.configure("sqlite:///exit.db", service_name="exit-test")
with agent("quick"):
    with tool("noop"):
        pass
# no flush, no shutdown: the handle's exit hook must deliver the batch
"""
    out = run_python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    with open_store(f"sqlite:///{tmp_path / 'exit.db'}") as store:
        (run,) = store.runs()
        assert (run["agent_name"], run["tool_calls"], run["service_name"]) == (
            "quick",
            1,
            "exit-test",
        )


def test_configure_joins_an_existing_provider_and_rejects_bad_names(tmp_path: Path) -> None:
    code = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
mine = TracerProvider()
trace.set_tracer_provider(mine)
import agentel.sdk
handle = agentel.sdk.configure("sqlite:///joined.db", instrument=None)
assert handle.provider is mine
with trace.get_tracer("app").start_as_current_span("request"):
    pass
handle.shutdown()
handle.shutdown()  # idempotent
try:
    agentel.sdk.configure("sqlite:///x.db", instrument=["opena1"])
except ValueError as exc:
    assert "'opena1'" in str(exc), exc
else:
    raise AssertionError("unknown instrumentor accepted")
print("ok")
"""
    out = run_python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
    with open_store(f"sqlite:///{tmp_path / 'joined.db'}") as store:
        assert [r["name"] for r in store.runs()] == ["request"]


def test_queue_full_warnings_are_rate_limited() -> None:
    """A stalled exporter makes the SDK warn once per dropped span; we let one through."""
    import logging

    from agentel.sdk._logging import QueueFullFilter

    qfilter = QueueFullFilter(interval=3600)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.WARNING, __file__, 1, msg, ("span",), None)

    passed = [qfilter.filter(record("Queue full, dropping %s.")) for _ in range(1000)]
    assert passed.count(True) == 1
    assert qfilter.filter(record("Exception while exporting %s."))  # other records untouched
    qfilter.interval = 0
    later = record("Queue full, dropping %s.")
    assert qfilter.filter(later) and "999 more drops not logged" in later.getMessage()


def test_a_second_configure_returns_the_handle_or_adds_a_destination(tmp_path: Path) -> None:
    """Issue 14 item 6: the same store gives the same handle; another store is a second
    destination sharing the instrumentation, which stays on until the last handle stops."""
    code = """
import json
import openai
import agentel.sdk
from agentel.instrumentation import agent
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.testing import ScriptedLLMServer

h1 = agentel.sdk.configure("sqlite:///one.db", instrument="openai")
same = agentel.sdk.configure("sqlite:///one.db", instrument="openai")
h2 = agentel.sdk.configure("sqlite:///two.db", instrument="openai")
checks = {"same": same is h1, "other": h2 is not h1}
with ScriptedLLMServer() as server:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)

    def runs(count):
        for _ in range(count):
            with agent("courier"):
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    runs(3)
    checks["flushed"] = [h1.force_flush(), h2.force_flush()]
    h1.shutdown()
    checks["on_after_h1"] = OpenAIInstrumentor().is_instrumented_by_opentelemetry
    runs(2)
    h2.shutdown()
    checks["on_after_h2"] = OpenAIInstrumentor().is_instrumented_by_opentelemetry
    checks["failed"] = [h1.exporter.failed_spans, h2.exporter.failed_spans]
print(json.dumps(checks))
"""
    out = run_python(code, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "dropped" not in out.stderr, out.stderr
    checks = json.loads(out.stdout.strip().splitlines()[-1])
    assert checks == {
        "same": True,
        "other": True,
        "flushed": [True, True],
        "on_after_h1": True,
        "on_after_h2": False,
        "failed": [0, 0],
    }
    for name, expected in (("one.db", 3), ("two.db", 5)):
        with open_store(f"sqlite:///{tmp_path / name}") as store:
            runs = store.runs(limit=None)
            assert len(runs) == expected, name
            assert all((r["llm_calls"], r["span_count"]) == (1, 2) for r in runs), runs
