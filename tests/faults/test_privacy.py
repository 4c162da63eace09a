"""Exception messages are content (issue 14 item 9).

With content capture off (the default), a tool's exception that quotes its argument reaches
neither the store nor the OTLP exporter: the type and the stack trace's frames are kept,
every message is redacted. A foreign GenAI instrumentation recording content while
agentel's capture is off is named in one warning, under zero-code and ``configure()``.
"""

from __future__ import annotations

import os
import subprocess
import sys

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.exporters._privacy import REDACTED, RedactingSpanExporter
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import open_store
from tests.faults.conftest import child_env, run_child, write_script

SECRET = "card-4111-1111"


def lookup(argument: str) -> None:
    raise ValueError(f"no customer for {argument!r}")


def fail_in_a_tool(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("app")
    try:
        with (
            tracer.start_as_current_span(
                "invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}
            ),
            tracer.start_as_current_span(
                "execute_tool lookup", attributes={"gen_ai.operation.name": "execute_tool"}
            ),
        ):
            lookup(SECRET)
    except ValueError:
        pass


def test_exception_messages_are_redacted_in_the_store_unless_content_is_on(tmp_path):
    for capture, name in ((False, "off.db"), (True, "on.db")):
        exporter = SQLiteSpanExporter(f"sqlite:///{tmp_path / name}")
        exporter.capture_content = capture
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        fail_in_a_tool(provider)
        provider.shutdown()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("off.db*"))
    assert SECRET.encode() not in raw and b"no customer for '" not in raw
    with open_store(f"sqlite:///{tmp_path / 'off.db'}") as store:
        spans = list(store.export())
    assert len(spans) == 2
    for span in spans:  # the error went through both spans
        assert span.status == "error"
        assert span.status_message == f"ValueError: {REDACTED}"
        (event,) = [e for e in span.events if e["name"] == "exception"]
        attributes = event["attributes"]
        assert attributes["exception.type"] == "ValueError"
        assert attributes["exception.message"] == REDACTED
        trace_text = attributes["exception.stacktrace"]
        assert "Traceback (most recent call last)" in trace_text
        assert ", in lookup" in trace_text and "raise ValueError(" in trace_text
        assert trace_text.splitlines()[-1] == f"ValueError: {REDACTED}"
    with open_store(f"sqlite:///{tmp_path / 'on.db'}") as store:
        kept = list(store.export())
    assert all(SECRET in (s.status_message or "") for s in kept)


def test_the_otlp_exporter_gets_the_redacted_form():
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(inner)))
    fail_in_a_tool(provider)
    exported = inner.get_finished_spans()
    assert len(exported) == 2
    for span in exported:
        assert span.status.description == f"ValueError: {REDACTED}"
        assert SECRET not in repr([dict(e.attributes) for e in span.events])


FOREIGN = """
import agentel.sdk
from openinference.instrumentation.openai import OpenAIInstrumentor
OpenAIInstrumentor().instrument()
agentel.sdk.configure("sqlite:///a.db", instrument="openai")
agentel.sdk.configure("sqlite:///b.db", instrument="openai")
"""


def test_configure_warns_once_about_a_foreign_instrumentation_recording_content(tmp_path):
    out = run_child(tmp_path, FOREIGN)
    assert out.stderr.count("agentel: content capture is off") == 1, out.stderr
    assert "openinference-instrumentation-openai" in out.stderr
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai" in out.stderr
    hidden = run_child(
        tmp_path, FOREIGN, OPENINFERENCE_HIDE_INPUTS="true", OPENINFERENCE_HIDE_OUTPUTS="true"
    )
    assert "content capture is off" not in hidden.stderr, hidden.stderr


def test_zero_code_warns_until_the_foreign_instrumentations_are_disabled(tmp_path):
    script = write_script(tmp_path, "print('ran')\n")
    instrument = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [instrument, sys.executable, str(script)],
            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
            env=child_env(OTEL_TRACES_EXPORTER="agentel_sqlite", OTEL_METRICS_EXPORTER="none",
                          OTEL_LOGS_EXPORTER="none", AGENTEL_STORE="sqlite:///z.db", **env),
        )  # fmt: skip

    warned = run()
    assert warned.returncode == 0 and "ran" in warned.stdout, warned.stderr
    assert warned.stderr.count("agentel: content capture is off") == 1, warned.stderr
    assert "opentelemetry-instrumentation-openai (entry point 'openai'" in warned.stderr
    assert "TRACELOOP_TRACE_CONTENT=false" in warned.stderr
    quiet = run(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
    assert "content capture is off" not in quiet.stderr, quiet.stderr
    opted_in = run(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    assert "content capture is off" not in opted_in.stderr, opted_in.stderr
