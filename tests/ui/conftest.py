"""Stores written by scripted agents (real SDKs, real exporter) for the UI tests, on SQLite and
on MongoDB (the same spans copied through the store API)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentel.store import open_store

ROOT = Path(__file__).resolve().parents[2]
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"

HOSTILE = f"""
import json
import agentel.sdk
from opentelemetry import trace
from agentel.instrumentation import agent, record_event, tool

XSS_IMG = {XSS_IMG!r}
XSS_SCRIPT = {XSS_SCRIPT!r}
handle = agentel.sdk.configure(service_name="hostile-service")


@tool(XSS_IMG)
def evil(text):
    return XSS_SCRIPT + text


@tool("explode")
def explode():
    raise RuntimeError("boom " + XSS_IMG)


for turn in range(2):
    with agent(XSS_SCRIPT + " agent", conversation_id="conv-" + XSS_IMG, user_id="u1"):
        trace.get_current_span().set_attribute(
            "gen_ai.input.messages",
            json.dumps([{{"role": "user", "parts": [{{"type": "text", "content": XSS_IMG + XSS_SCRIPT}}]}}]),
        )
        record_event("checkpoint", note=XSS_SCRIPT)
        evil(XSS_IMG)
try:
    with agent("flaky-agent"):
        explode()
except RuntimeError:
    pass
handle.shutdown()
"""


@pytest.fixture(scope="session")
def agent_store(tmp_path_factory) -> str:
    """``sqlite:///...`` written by real instrumented runs, content captured: 2 weather-agent
    runs (openai SDK against the scripted server), 1 manual population-agent run, 2 runs of an
    agent whose names, content and conversation id are XSS payloads, and 1 failing run."""
    cwd = tmp_path_factory.mktemp("ui-store")
    env = {
        **os.environ,
        "AGENTEL_STORE": "sqlite:///store.db",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    env.pop("OPENAI_API_KEY", None)
    for command in (
        [str(ROOT / "examples" / "weather_agent.py"), "Weather in Paris?", "And in Tokyo?"],
        [str(ROOT / "examples" / "manual_agent.py"), "How many people live in London?"],
        ["-c", HOSTILE],
    ):
        done = subprocess.run(
            [sys.executable, *command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    return f"sqlite:///{cwd / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.mongodb)])
def store_url(request, agent_store) -> str:
    """The scripted agents' store on each backend."""
    if request.param == "sqlite":
        return agent_store
    url = request.getfixturevalue("mongodb_url")
    with open_store(agent_store) as source, open_store(url) as target:
        target.ingest(list(source.export()))
    return url


@contextlib.contextmanager
def running_ui(config) -> Iterator[str]:
    """The UI app served by uvicorn in a thread on a free port; yields its base URL."""
    import uvicorn

    from agentel.ui import create_app
    from agentel.ui.server import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
