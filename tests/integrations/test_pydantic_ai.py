"""A real Pydantic AI agent (OpenAIChatModel over the scripted server, one function tool)
recorded through PydanticAIInstrumentor into SQLite: one run per ``run`` / ``run_sync`` /
``run_stream``, exact tokens and cost, identical with the OpenAI provider instrumentor on or
off, and no captured content unless it is opted in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from runtree import IN, OUT, run_totals, shape, tree

from agentel.instrumentation.pydantic_ai import PydanticAIInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage


@pytest.fixture
def pydantic_ai_instrumented(fanout) -> Iterator[PydanticAIInstrumentor]:
    instrumentor = PydanticAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def weather_agent(server: ScriptedLLMServer) -> Agent:
    provider = OpenAIProvider(base_url=server.openai_base_url, api_key="test")
    agent = Agent(
        OpenAIChatModel("gpt-4o-mini", provider=provider),
        name="weather",
        instructions="Answer weather questions.",
    )

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return f"14C and light rain in {city}"

    return agent


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(input_tokens=80, output_tokens=8),
        ),
        Reply.text("Rainy, 14C.", usage=Usage(input_tokens=120, output_tokens=3)),
    )


def stored(recording) -> tuple[dict, tuple, list[dict]]:
    with recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        return run, shape(root), store.spans()


def expected_shape(provider_on: bool):
    def chat():
        return tree("chat gpt-4o-mini", *((tree("chat gpt-4o-mini"),) if provider_on else ()))

    return tree("invoke_agent weather", chat(), tree("execute_tool get_weather"), chat())


TOTALS = {
    "llm_calls": 2,
    "tool_calls": 1,
    "errors": 0,
    "input_tokens": 200,
    "output_tokens": 11,
    "cost_usd": pytest.approx(200 * IN + 11 * OUT),
}


def test_run_sync_is_one_run(provider_instrumentor, pydantic_ai_instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        result = weather_agent(server).run_sync("Weather in Paris?")
    assert result.output == "Rainy, 14C."

    run, run_shape, spans = stored(sqlite_recording)
    assert run["name"] == "invoke_agent weather" and run["agent_name"] == "weather"
    assert run_totals(run) == TOTALS
    assert run_shape == expected_shape(provider_instrumentor)
    assert run["models"] == ["gpt-4o-mini"]
    # content is off by default: no arguments, results, or message texts anywhere
    tool = next(s for s in spans if s["name"] == "execute_tool get_weather")
    assert A.GEN_AI_TOOL_CALL_ARGUMENTS not in tool["attributes"]
    assert A.GEN_AI_TOOL_CALL_RESULT not in tool["attributes"]
    dumped = json.dumps([s["attributes"] for s in spans])
    for text in ("Weather in Paris?", "Rainy, 14C.", "light rain", "Answer weather questions."):
        assert text not in dumped


def test_async_run_and_run_stream_are_one_run_each(
    provider_instrumentor, pydantic_ai_instrumented, sqlite_recording
):
    async def main() -> list[str]:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            script(server)
            agent = weather_agent(server)
            first = await agent.run("Weather in Paris?")
            async with agent.run_stream("Weather in Paris?") as stream:
                second = await stream.get_output()
            return [first.output, second]

    assert asyncio.run(main()) == ["Rainy, 14C.", "Rainy, 14C."]
    with sqlite_recording.open() as store:
        runs = store.runs()
    assert len(runs) == 2
    for run in runs:
        assert run["name"] == "invoke_agent weather"
        assert run_totals(run) == TOTALS


def test_content_is_recorded_when_opted_in(fanout, sqlite_recording, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrumentor = PydanticAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            weather_agent(server).run_sync("Weather in Paris?")
    finally:
        instrumentor.uninstrument()
    _, _, spans = stored(sqlite_recording)
    tool = next(s for s in spans if s["name"] == "execute_tool get_weather")
    assert json.loads(tool["attributes"][A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool["attributes"][A.GEN_AI_TOOL_CALL_RESULT] == "14C and light rain in Paris"


def test_the_applications_own_settings_are_kept(fanout):
    from pydantic_ai import InstrumentationSettings

    own = InstrumentationSettings(include_content=True)
    Agent.instrument_all(own)
    try:
        instrumentor = PydanticAIInstrumentor()
        instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
        assert Agent._instrument_default is own
        instrumentor.uninstrument()
        assert Agent._instrument_default is own
    finally:
        Agent.instrument_all(False)


def test_uninstrument_switches_the_spans_off(fanout, sqlite_recording):
    instrumentor = PydanticAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    instrumentor.uninstrument()
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        weather_agent(server).run_sync("Weather in Paris?")
    with sqlite_recording.open() as store:
        assert store.runs() == []
