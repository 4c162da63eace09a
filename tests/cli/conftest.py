"""A store written by real instrumented runs, and the real `agentel` command to read it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"

FLAKY = """
import agentel.sdk
from agentel.instrumentation import agent, record_event, tool

handle = agentel.sdk.configure(service_name="flaky-service")


@tool("explode")
def explode():
    raise RuntimeError("boom in the tool")


try:
    with agent("flaky-agent"):
        record_event("checkpoint", step="before")
        explode()
except RuntimeError:
    pass
handle.shutdown()
"""


def run_agentel(*args: str, cwd: Path, stdin: str | None = None, timeout: float = 60):
    """The installed `agentel` command in a subprocess (no TTY, no AGENTEL_STORE)."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("AGENTEL_STORE", None)
    return subprocess.run(
        [AGENTEL, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> Path:
    """A directory with store.db: 2 weather-agent runs and 1 manual population-agent run
    (content captured, offline against the scripted server) and 1 failing run."""
    cwd = tmp_path_factory.mktemp("recorded")
    env = {
        **os.environ,
        "AGENTEL_STORE": "sqlite:///store.db",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    env.pop("OPENAI_API_KEY", None)
    for command in (
        [str(ROOT / "examples" / "weather_agent.py"), "Weather in Paris?", "And in Tokyo?"],
        [str(ROOT / "examples" / "manual_agent.py"), "How many people live in London?"],
        ["-c", FLAKY],
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
    return cwd


@pytest.fixture
def copy_of(recorded, tmp_path) -> Path:
    """A private copy of the recorded store, for commands that change it."""
    shutil.copy(recorded / "store.db", tmp_path / "store.db")
    return tmp_path
