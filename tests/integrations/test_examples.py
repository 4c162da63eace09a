"""Each example runs as a real program (offline, against the scripted server), and the real
``agentel show`` prints its run as a readable tree."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "COLUMNS": "200", "AGENTEL_STORE": "sqlite:///example.db"}
    for key in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "MISTRAL_API_KEY",
    ):
        env.pop(key, None)
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    return out.stdout


def shown_tree(example: str, question: str, cwd: Path) -> tuple[str, dict, list[str]]:
    """Run the example, then `agentel runs` / `agentel show`: (stdout, run, tree lines)."""
    printed = run([sys.executable, str(ROOT / "examples" / example), question], cwd)
    (only,) = json.loads(run([AGENTEL, "runs", "--format", "json"], cwd))
    shown = run([AGENTEL, "show", only["run_id"][:8]], cwd)
    header, *lines = shown.rstrip("\n").splitlines()
    assert header.startswith(f"run {only['run_id']}")
    # Durations and costs vary; keep the tree drawing, the names and the token counts.
    names = [re.sub(r"  \d[\dµm.]*s\b.*?(?=  in |  \(|$)", "", line).rstrip() for line in lines]
    return printed, only, names


def test_langgraph_example(tmp_path):
    printed, only, lines = shown_tree("langgraph_agent.py", "Weather in Paris?", tmp_path)
    assert printed.strip() == "In Paris it is 14C, light rain; local time 14:05."
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == ("travel-agent", 2, 2)
    assert lines[0] == "└── invoke_agent travel-agent"
    tools = [line.strip("│├└─ ") for line in lines if "execute_tool" in line]
    assert sorted(tools) == ["execute_tool get_local_time", "execute_tool get_weather"]
    chats = [line for line in lines if "chat gpt-4o-mini" in line]
    assert len(chats) == 4  # LangChain's chat span with the OpenAI SDK's nested under it
    assert sum("(same call, counted above)" in line for line in chats) == 2


def test_openai_agents_example(tmp_path):
    printed, only, lines = shown_tree("openai_agents_agent.py", "Weather in Paris?", tmp_path)
    assert printed.strip() == "In Paris it is 14C, light rain."
    assert (only["name"], only["llm_calls"], only["tool_calls"]) == (
        "invoke_workflow weather-desk",
        3,
        1,
    )
    skeleton = [re.sub(r"  in \d+ / out \d+.*$", "", line) for line in lines]
    assert skeleton == [
        "└── invoke_workflow weather-desk",
        "    ├── invoke_agent triage",
        "    │   ├── chat gpt-4o-mini",
        "    │   │   └── chat gpt-4o-mini  (same call, counted above)",
        "    │   └── handoff weather",
        "    └── invoke_agent weather",
        "        ├── chat gpt-4o-mini",
        "        │   └── chat gpt-4o-mini  (same call, counted above)",
        "        ├── execute_tool get_weather",
        "        └── chat gpt-4o-mini",
        "            └── chat gpt-4o-mini  (same call, counted above)",
    ]


def test_manual_example(tmp_path):
    printed, only, lines = shown_tree("manual_agent.py", "How many people live in Paris?", tmp_path)
    assert printed.strip().endswith('{"city": "Paris", "population": 2102650}')
    assert (only["llm_calls"], only["tool_calls"], only["iterations"]) == (2, 1, 2)
    assert only["feedback"] == 1.0
    assert [re.sub(r"  in \d+ / out \d+.*$", "", line) for line in lines] == [
        "└── invoke_agent population-agent",
        "    ├── chat gpt-4o-mini",
        "    ├── execute_tool lookup_population",
        "    └── chat gpt-4o-mini",
    ]
    assert all("$" in line for line in lines if "chat" in line)  # priced


@pytest.mark.parametrize(
    "example", ["langgraph_agent.py", "openai_agents_agent.py", "manual_agent.py"]
)
def test_examples_document_how_to_run_them(example):
    text = (ROOT / "examples" / example).read_text()
    assert f"python examples/{example}" in text and "OPENAI_API_KEY" in text


def test_pydantic_ai_example(tmp_path):
    printed, only, lines = shown_tree("pydantic_ai_agent.py", "Weather in Paris?", tmp_path)
    assert printed.strip() == "In Paris it is 14C, light rain."
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == ("weather", 2, 1)
    skeleton = [re.sub(r"  in \d+ / out \d+.*$", "", line) for line in lines]
    assert skeleton == [
        "└── invoke_agent weather",
        "    ├── chat gpt-4o-mini",
        "    │   └── chat gpt-4o-mini  (same call, counted above)",
        "    ├── execute_tool get_weather",
        "    └── chat gpt-4o-mini",
        "        └── chat gpt-4o-mini  (same call, counted above)",
    ]


def test_mcp_example_is_one_run_across_two_processes(tmp_path):
    printed, only, lines = shown_tree("mcp_agent.py", "Weather in Paris?", tmp_path)
    assert printed.strip() == "In Paris it is 14C, light rain."
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == (
        "mcp-weather-agent",
        2,
        1,
    )
    skeleton = [re.sub(r"  in \d+ / out \d+.*$", "", line) for line in lines]
    assert skeleton == [
        "└── invoke_agent mcp-weather-agent",
        "    ├── tools/list",
        "    │   └── MCP send tools/list",
        "    │       └── tools/list",
        "    ├── chat gpt-4o-mini",
        "    ├── execute_tool get_weather",
        "    │   └── MCP send tools/call get_weather",
        "    │       └── tools/call get_weather",
        "    └── chat gpt-4o-mini",
    ]


COMPACT = 'Here is what I found: {"city":"Paris","temp_c":14,"sky":"light rain"}'
SPACED = 'Here is what I found: {"city": "Paris", "temp_c": 14, "sky": "light rain"}'


@pytest.mark.parametrize(
    ("example", "printed", "agent_name", "llm_span", "key"),
    [
        ("gemini_agent.py", COMPACT, "gemini-weather-agent", "generate_content gemini-2.5-flash",
         "GEMINI_API_KEY"),
        ("bedrock_agent.py", SPACED, "bedrock-weather-agent", "chat us.amazon.nova-pro-v1:0",
         "AWS_ACCESS_KEY_ID"),
        ("litellm_agent.py", SPACED, "litellm-weather-agent", "chat gpt-4o-mini",
         "OPENAI_API_KEY"),
        ("mistral_agent.py", SPACED, "mistral-weather-agent", "chat mistral-small-latest",
         "MISTRAL_API_KEY"),
    ],
)  # fmt: skip
def test_provider_sdk_examples(
    tmp_path: Path, example: str, printed: str, agent_name: str, llm_span: str, key: str
) -> None:
    """A weather agent on one provider SDK: two priced LLM calls around one tool call."""
    out, only, lines = shown_tree(example, "Weather in Paris?", tmp_path)
    assert out.strip() == printed
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == (agent_name, 2, 1)
    assert [re.sub(r"  in \d+ / out \d+.*$", "", line) for line in lines] == [
        f"└── invoke_agent {agent_name}",
        f"    ├── {llm_span}",
        "    ├── execute_tool get_weather",
        f"    └── {llm_span}",
    ]
    assert all("$" in line for line in lines if llm_span in line)  # priced
    text = (ROOT / "examples" / example).read_text()
    assert f"python examples/{example}" in text and key in text
