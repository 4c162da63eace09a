"""`agentel rerun` and `agentel cassette export` on a run the real weather agent recorded: the
re-run is served from the recording alone, recorded, linked and compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT, run_agentel

STORE = "sqlite:///store.db"
SLOW = 600  # seconds: `agentel rerun` starts the agent, a second Python process
AGENT = [sys.executable, str(ROOT / "examples" / "weather_agent.py")]


def _record(cwd, *questions: str, content: bool = True) -> str:
    env = {**os.environ, "AGENTEL_STORE": STORE}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
    if content:
        env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    subprocess.run(
        [*AGENT, *questions], cwd=cwd, env=env, check=True, capture_output=True, timeout=SLOW
    )
    listed = run_agentel(
        "runs", "--limit", "1", "--format", "json", "--store", STORE, cwd=cwd, timeout=SLOW
    )
    return json.loads(listed.stdout)[0]["run_id"]


@pytest.mark.timeout(1800)
def test_rerun_serves_the_recording_links_the_new_run_and_stops_on_a_change(tmp_path):
    recorded = _record(tmp_path, "Weather in Paris?")
    again = run_agentel(
        "rerun",
        recorded,
        "--store",
        STORE,
        "--",
        *AGENT,
        "Weather in Paris?",
        cwd=tmp_path,
        timeout=SLOW,
    )
    assert again.returncode == 0, again.stderr
    assert (
        again.stdout.strip()
        == 'Here is what I found: {"city": "Paris", "temp_c": 14, "sky": "light rain"}'
    )
    assert "served 2 of 2 recorded calls" in again.stderr
    new = json.loads(
        run_agentel(
            "runs", "--limit", "1", "--format", "json", "--store", STORE, cwd=tmp_path, timeout=SLOW
        ).stdout
    )[0]["run_id"]
    assert f"new run {new} (same behaviour)" in again.stderr
    shown = json.loads(
        run_agentel(
            "show", new, "--format", "json", "--store", STORE, cwd=tmp_path, timeout=SLOW
        ).stdout
    )
    assert shown["spans"][0]["attributes"]["agentel.rerun.of"] == recorded
    assert (
        run_agentel("diff", recorded, new, "--store", STORE, cwd=tmp_path, timeout=SLOW).returncode
        == 0
    )

    changed = run_agentel(
        "rerun",
        recorded,
        "--store",
        STORE,
        "--",
        *AGENT,
        "Weather in Tokyo?",
        cwd=tmp_path,
        timeout=SLOW,
    )
    assert changed.returncode == 3
    assert (
        'stopped (--strict): call 1: messages[1].parts[0].content differs: "Weather in Paris?" '
        '(recorded call 1, openai gpt-4o-mini) vs "Weather in Tokyo?"'
    ) in changed.stderr

    exported = run_agentel(
        "cassette",
        "export",
        recorded,
        "-o",
        "run.json",
        "--store",
        STORE,
        cwd=tmp_path,
        timeout=SLOW,
    )
    assert exported.returncode == 0, exported.stderr
    cassette = json.loads((tmp_path / "run.json").read_text())
    assert (cassette["format"], cassette["version"], len(cassette["calls"])) == (
        "agentel.cassette",
        1,
        2,
    )


@pytest.mark.timeout(900)
def test_rerun_refuses_a_run_recorded_without_content(tmp_path):
    recorded = _record(tmp_path, "Weather in Paris?", content=False)
    refused = run_agentel(
        "rerun", recorded, "--store", STORE, "--", *AGENT, cwd=tmp_path, timeout=SLOW
    )
    assert refused.returncode == 2
    assert "recorded without content capture" in refused.stderr
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in refused.stderr
    assert "Here is what I found" not in refused.stdout  # the command never ran
    export = run_agentel(
        "cassette", "export", recorded, "-o", "x.json", "--store", STORE, cwd=tmp_path, timeout=SLOW
    )
    assert export.returncode == 2 and not (tmp_path / "x.json").exists()
