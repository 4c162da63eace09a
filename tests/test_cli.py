"""The real `agentel` command in a subprocess, against stores written by real instrumented runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"


def agentel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("AGENTEL_STORE", None)
    return subprocess.run(
        [AGENTEL, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("demo")
    out = agentel("demo", cwd=cwd)
    assert out.returncode == 0, out.stderr
    assert "agentel-demo.db" in out.stdout
    assert out.stdout.rstrip().endswith("agentel ui --store sqlite:///agentel-demo.db")
    assert (cwd / "agentel-demo.db").exists()
    return cwd


def test_demo_records_three_priced_runs(demo_dir):
    out = agentel("runs", "--store", "sqlite:///agentel-demo.db", "--format", "json", cwd=demo_dir)
    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)
    assert len(runs) == 3
    for run in runs:
        assert run["llm_calls"] >= 2 and run["tool_calls"] >= 1
        assert run["input_tokens"] > 0 and run["output_tokens"] > 0
        assert run["cost_usd"] > 0 and run["status"] == "ok"


def test_runs_table_and_show_tree(demo_dir):
    table = agentel("runs", "--store", "sqlite:///agentel-demo.db", cwd=demo_dir)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("weather-agent") == 3
    assert "\x1b[" not in table.stdout  # no colour when not a TTY
    run_id = json.loads(
        agentel(
            "runs", "--store", "sqlite:///agentel-demo.db", "--format", "json", cwd=demo_dir
        ).stdout
    )[0]["run_id"]
    tree = agentel("show", run_id[:6], "--store", "sqlite:///agentel-demo.db", cwd=demo_dir)
    assert tree.returncode == 0, tree.stderr
    assert "invoke_agent weather-agent" in tree.stdout
    assert tree.stdout.count("chat gpt-4o-mini") == 2
    assert "execute_tool get_weather" in tree.stdout
    shown = json.loads(
        agentel(
            "show", run_id, "--store", "sqlite:///agentel-demo.db", "--format", "json", cwd=demo_dir
        ).stdout
    )
    assert shown["run_id"] == run_id and shown["spans"][0]["children"]


def test_errors_name_the_bad_value(demo_dir):
    missing = agentel("show", "ffffff", "--store", "sqlite:///agentel-demo.db", cwd=demo_dir)
    assert missing.returncode == 1 and "'ffffff'" in missing.stderr
    bad_url = agentel("runs", "--store", "postgres://x", cwd=demo_dir)
    assert bad_url.returncode == 2 and "postgres://x" in bad_url.stderr
