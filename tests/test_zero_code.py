"""Zero code: `opentelemetry-instrument` with OTEL_TRACES_EXPORTER=agentel_sqlite or
agentel_mongodb, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentel.store import open_store

SCRIPT = """
import openai
from agentel.testing import ScriptedLLMServer, Reply, Usage

with ScriptedLLMServer(auto=False) as server:
    server.enqueue(Reply.text("hello", usage=Usage(input_tokens=1000, output_tokens=100)))
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
"""


@pytest.mark.parametrize("exporter", ["agentel_sqlite", "agentel_mongodb"])
def test_opentelemetry_instrument_writes_the_store(tmp_path: Path, exporter: str, request) -> None:
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    store = (
        f"sqlite:///{tmp_path / 'zc.db'}"
        if exporter == "agentel_sqlite"
        else request.getfixturevalue("mongodb_url")
    )
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": exporter,
        # the dev extra also installs three foreign OpenAI instrumentors (entry point "openai")
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-agent",
        "AGENTEL_STORE": store,
    }
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    out = subprocess.run(
        [str(instrument), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "could not write" not in out.stderr, out.stderr
    with open_store(env["AGENTEL_STORE"]) as store:
        (run,) = store.runs()
        assert run["name"] == "chat gpt-4o"
        assert run["service_name"] == "zero-code-agent"
        assert (run["input_tokens"], run["output_tokens"]) == (1000, 100)
        assert run["cost_usd"] > 0  # gpt-4o: 1000 * $2.50/1M + 100 * $10/1M
        assert abs(run["cost_usd"] - (1000 * 2.5 + 100 * 10) / 1e6) < 1e-12
