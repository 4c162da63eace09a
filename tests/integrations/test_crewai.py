"""A real CrewAI crew (CrewAI's native OpenAI LLM over the scripted server, one function tool)
recorded through CrewAIInstrumentor into SQLite: one run, exact tokens and cost, identical
with the OpenAI provider instrumentor on or off.

CrewAI needs ``openai<3``, so these tests run in a venv of their own (``make
test-openai2-frameworks``, which ``.ci/run`` calls); there ``AGENTEL_REQUIRE_CREWAI=1`` turns a
missing CrewAI into a failure instead of a skip. CrewAI's telemetry and tracing are switched
off and its files go to a temporary directory: nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

if os.environ.get("AGENTEL_REQUIRE_CREWAI") != "1":
    pytest.importorskip(
        "crewai", reason="CrewAI is tested in its own venv: make test-openai2-frameworks"
    )

from crewai import LLM, Agent, Crew, Task
from crewai.tools import tool
from opentelemetry import trace
from runtree import IN, OUT, run_totals, shape, tree

from agentel.instrumentation.crewai import CrewAIInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # CrewAI's own, many


@pytest.fixture(autouse=True)
def crewai_files(tmp_path, monkeypatch) -> None:
    """CrewAI keeps task outputs under the user's data directory: a temporary one here."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def crewai_instrumented(fanout) -> Iterator[CrewAIInstrumentor]:
    instrumentor = CrewAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


@tool("get_weather")
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(input_tokens=80, output_tokens=8),
        ),
        Reply.text("Rainy, 14C.", usage=Usage(input_tokens=120, output_tokens=3)),
    )


def weather_crew(server: ScriptedLLMServer, weather_tool: Any = get_weather) -> Crew:
    llm = LLM(model="gpt-4o-mini", base_url=server.openai_base_url, api_key="test", max_retries=0)
    forecaster = Agent(
        role="Forecaster",
        goal="Report the weather",
        backstory="A meteorologist.",
        tools=[weather_tool],
        llm=llm,
    )
    forecast = Task(
        name="forecast",
        description="What's the weather in {city}?",
        expected_output="One line.",
        agent=forecaster,
    )
    return Crew(name="weather-crew", agents=[forecaster], tasks=[forecast])


TOTALS = {
    "llm_calls": 2,
    "tool_calls": 1,
    "errors": 0,
    "input_tokens": 200,
    "output_tokens": 11,
    "cost_usd": pytest.approx(200 * IN + 11 * OUT),
}


def kickoff(crew: Crew, how: str) -> str:
    inputs = {"city": "Paris"}
    if how == "kickoff_async":
        return asyncio.run(crew.kickoff_async(inputs=inputs)).raw
    if how == "akickoff":
        return asyncio.run(crew.akickoff(inputs=inputs)).raw
    if how == "stream":  # CrewAI runs the crew again, unstreamed, on a thread of its own
        crew.stream = True
        streamed = crew.kickoff(inputs=inputs)
        assert list(streamed)
        return streamed.result.raw
    return crew.kickoff(inputs=inputs).raw


@pytest.mark.parametrize("how", ["kickoff", "kickoff_async", "akickoff", "stream"])
def test_crew_kickoff_is_one_run(provider_instrumentor, crewai_instrumented, sqlite_recording, how):
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        assert kickoff(weather_crew(server), how) == "Rainy, 14C."
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = store.spans()
    assert run["name"] == "invoke_workflow weather-crew" and run["agent_name"] == "weather-crew"
    assert run_totals(run) == TOTALS

    def chat():
        inner = (tree("chat gpt-4o-mini"),) if provider_instrumentor else ()
        return tree("chat gpt-4o-mini", *inner)

    assert shape(root) == tree(
        "invoke_workflow weather-crew",
        tree(
            "step forecast",
            tree("invoke_agent Forecaster", chat(), tree("execute_tool get_weather"), chat()),
        ),
    )
    by_name = {s["name"]: s for s in spans}
    agent = by_name["invoke_agent Forecaster"]
    assert (agent["category"], agent["agent_name"]) == ("agent", "Forecaster")
    assert agent["attributes"][A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    step = by_name["step forecast"]["attributes"]
    assert (step[A.AGENTEL_STEP_NAME], step[A.AGENTEL_STEP_TYPE]) == ("forecast", "task")
    counted = [s for s in spans if s["category"] == "llm" and s["counted"]]
    assert [(s["input_tokens"], s["output_tokens"]) for s in counted] == [(80, 8), (120, 3)]
    assert all(s["attributes"][A.AGENTEL_FRAMEWORK] == "crewai" for s in counted)
    assert counted[0]["attributes"][A.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    dumped = json.dumps([s["attributes"] for s in spans])
    for text in ("weather in Paris", "Rainy, 14C.", "light rain"):
        assert text not in dumped  # content is off by default


def test_two_agents_two_tasks_one_in_a_thread(crewai_instrumented, sqlite_recording):
    """Each task is a step with its agent below it, also a task CrewAI runs on a thread."""
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.text("Paris: rain.", usage=Usage(input_tokens=50, output_tokens=4)),
            Reply.text("Take an umbrella.", usage=Usage(input_tokens=70, output_tokens=5)),
        )
        llm = LLM(
            model="gpt-4o-mini", base_url=server.openai_base_url, api_key="test", max_retries=0
        )
        researcher = Agent(role="Researcher", goal="Find facts", backstory="Curious.", llm=llm)
        writer = Agent(role="Writer", goal="Advise", backstory="Brief.", llm=llm)
        research = Task(
            name="research",
            description="Weather in Paris?",
            expected_output="A fact.",
            agent=researcher,
            async_execution=True,
        )
        advise = Task(
            name="advise", description="What to pack?", expected_output="Advice.", agent=writer
        )
        crew = Crew(name="travel-desk", agents=[researcher, writer], tasks=[research, advise])
        assert crew.kickoff().raw == "Take an umbrella."
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
    assert (run["llm_calls"], run["input_tokens"], run["output_tokens"]) == (2, 120, 9)
    assert shape(root) == tree(
        "invoke_workflow travel-desk",
        tree("step research", tree("invoke_agent Researcher", tree("chat gpt-4o-mini"))),
        tree("step advise", tree("invoke_agent Writer", tree("chat gpt-4o-mini"))),
    )


def test_a_standalone_agent_kickoff_is_one_run(crewai_instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        (forecaster,) = weather_crew(server).agents
        assert forecaster.kickoff("What's the weather in Paris?").raw == "Rainy, 14C."
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
    assert run["name"] == "invoke_agent Forecaster" and run_totals(run) == TOTALS
    assert shape(root) == tree(
        "invoke_agent Forecaster",
        tree("chat gpt-4o-mini"),
        tree("execute_tool get_weather"),
        tree("chat gpt-4o-mini"),
    )


@tool("get_forecast")
def get_forecast(city: str) -> str:
    """Tomorrow's forecast for a city."""
    raise ConnectionError(f"forecast service down for {city}")


def test_a_failing_tool_is_a_failed_tool_span(crewai_instrumented, sqlite_recording):
    """CrewAI hands the tool's error to the model and carries on; the run records it."""
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.tool_calls(ToolCall("get_forecast", {"city": "Paris"})),
            Reply.text("No forecast today."),
        )
        crew = weather_crew(server, get_forecast)
        assert crew.kickoff(inputs={"city": "Paris"}).raw == "No forecast today."
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        failed = next(s for s in store.spans() if s["name"] == "execute_tool get_forecast")
    assert (run["status"], run["llm_calls"], run["tool_calls"], run["errors"]) == ("ok", 2, 1, 1)
    assert (failed["status"], failed["error_type"]) == ("error", "ConnectionError")


def test_content_when_opted_in(fanout, sqlite_recording, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrumentor = CrewAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            kickoff(weather_crew(server), "kickoff")
    finally:
        instrumentor.uninstrument()
    with sqlite_recording.open() as store:
        spans = {s["name"]: s["attributes"] for s in store.spans()}
    tool_span = spans["execute_tool get_weather"]
    assert json.loads(tool_span[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool_span[A.GEN_AI_TOOL_CALL_RESULT] == "14C and light rain in Paris"
    chat = spans["chat gpt-4o-mini"]
    assert "weather in Paris" in chat[A.GEN_AI_INPUT_MESSAGES]
    assert "Rainy, 14C." in spans["invoke_agent Forecaster"][A.GEN_AI_OUTPUT_MESSAGES]


def test_uninstrument_restores_crewai(fanout, sqlite_recording):
    instrumentor = CrewAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    instrumentor.uninstrument()
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        assert kickoff(weather_crew(server), "kickoff") == "Rainy, 14C."
    with sqlite_recording.open() as store:
        assert store.spans() == []


def test_example_runs_offline_and_shows_one_run(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "crewai_agent.py"
    env = {
        **os.environ,
        "COLUMNS": "200",
        "AGENTEL_STORE": "sqlite:///example.db",
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)

    def run(*args: str) -> str:
        out = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert run(sys.executable, str(example), "Weather in Paris?").strip() == (
        "In Paris it is 14C, light rain."
    )
    cli = [sys.executable, "-m", "agentel.cli.main"]
    (only,) = json.loads(run(*cli, "runs", "--format", "json"))
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == ("weather-desk", 2, 1)
    lines = run(*cli, "show", only["run_id"][:8]).rstrip("\n").splitlines()[1:]
    skeleton = [re.sub(r"  \d[\dµm.]*s\b.*$", "", line) for line in lines]
    assert skeleton == [
        "└── invoke_workflow weather-desk",
        "    └── step forecast",
        "        └── invoke_agent Forecaster",
        "            ├── chat gpt-4o-mini",
        "            │   └── chat gpt-4o-mini",
        "            ├── execute_tool get_weather",
        "            └── chat gpt-4o-mini",
        "                └── chat gpt-4o-mini",
    ]
