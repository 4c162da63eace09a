"""`agentel diff` on runs the real weather agent recorded: the table, the JSON, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli.conftest import ROOT, run_agentel


@pytest.mark.timeout(1200)
def test_diff_exit_status_says_whether_behaviour_diverged(tmp_path):
    env = {
        **os.environ,
        "AGENTEL_STORE": "sqlite:///store.db",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
    }
    env.pop("OPENAI_API_KEY", None)
    questions = ["Weather in Paris?", "Weather in Paris?", "Weather in Tokyo?"]
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "weather_agent.py"), *questions],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,  # three questions in a second Python process, on a loaded machine
    )
    listed = run_agentel(
        "runs", "--format", "json", "--store", "sqlite:///store.db", cwd=tmp_path, timeout=600
    )
    tokyo, paris_2, paris_1 = (r["run_id"] for r in json.loads(listed.stdout))

    same = run_agentel(
        "diff", paris_1, paris_2[:8], "--store", "sqlite:///store.db", cwd=tmp_path, timeout=600
    )
    assert same.returncode == 0, same.stderr
    assert f"run a {paris_1}  vs  run b {paris_2}: same behaviour" in same.stdout
    assert "tool get_weather" in same.stdout and "step 1:" not in same.stdout

    other = run_agentel(
        "diff", paris_1, tokyo, "--store", "sqlite:///store.db", cwd=tmp_path, timeout=600
    )
    assert other.returncode == 1, other.stderr
    assert "diverged (3 of 3 steps)" in other.stdout
    assert 'step 2: arguments differs: {"city": "Paris"} vs {"city": "Tokyo"}' in other.stdout

    as_json = run_agentel(
        "diff",
        paris_1,
        tokyo,
        "--format",
        "json",
        "--store",
        "sqlite:///store.db",
        cwd=tmp_path,
        timeout=600,
    )
    assert as_json.returncode == 1
    found = json.loads(as_json.stdout)
    assert found["same"] is False
    assert [s["status"] for s in found["steps"]] == ["changed"] * 3
    assert found["totals"]["llm_calls"] == {"a": 2, "b": 2, "delta": 0}

    missing = run_agentel(
        "diff", paris_1, "ffff", "--store", "sqlite:///store.db", cwd=tmp_path, timeout=600
    )
    assert missing.returncode == 2
    assert "no run with id or prefix 'ffff'" in missing.stderr
