"""configure() instruments a provider SDK on its first import, and skips missing ones silently.

Each test runs a fresh interpreter, so that no SDK is imported before ``configure()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

# top-level names (packages and their .dist-info) left out of the "not installed" environment
MISSING = ("langchain", "langgraph", "agents", "openai_agents", "mcp", "pydantic_ai")

CALL_AFTER_CONFIGURE = r"""
import json, logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
import agentel.sdk
handle = agentel.sdk.configure("memory://", instrument="all")
sdks = ("openai", "anthropic", "langchain_core", "agents", "google.genai", "botocore",
        "aiobotocore", "litellm", "mistralai", "mcp", "pydantic_ai", "crewai", "llama_index")
before = sorted(m for m in sdks if m in sys.modules)
import openai
from agentel.testing import ScriptedLLMServer
with ScriptedLLMServer() as srv:
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="k", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
handle.force_flush()
names = [s["name"] for s in handle.store.spans()]
handle.shutdown()
print(json.dumps({"before": before, "spans": names}))
"""


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_configure_imports_no_sdk_and_instruments_it_on_first_import() -> None:
    out = _run(CALL_AFTER_CONFIGURE)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["before"] == []  # configure() imported none of the SDKs
    assert found["spans"] == ["chat gpt-4o-mini"]  # the SDK imported later is traced


def test_libraries_that_are_not_installed_are_skipped_silently(tmp_path: Path) -> None:
    """A real environment without LangChain, the Agents SDK, MCP and Pydantic AI."""
    site = Path(sysconfig.get_paths()["purelib"])
    env_dir = tmp_path / "site"
    env_dir.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith(MISSING):
            os.symlink(entry, env_dir / entry.name)
    code = f"import site; site.addsitedir({str(env_dir)!r})\n" + CALL_AFTER_CONFIGURE
    out = _run(code, "-S")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no ERROR (nor WARNING) line for the missing libraries
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["spans"] == ["chat gpt-4o-mini"]
