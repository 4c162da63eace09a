"""Every producer honours the content mode (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT):
SPAN_ONLY puts captured content in span attributes, EVENT_ONLY only in the one
inference-details event, SPAN_AND_EVENT in both. Producers: an ``@llm``-decorated function,
LangChain (a chat model and a tool) and the OpenAI Agents SDK (a generation and a function
tool), each against the scripted server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI
from opentelemetry import trace

from agentel.instrumentation import llm
from agentel.instrumentation.langchain import LangChainInstrumentor
from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

MODES = ("SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT")
MESSAGES = {A.GEN_AI_INPUT_MESSAGES, A.GEN_AI_OUTPUT_MESSAGES}
TOOL = {A.GEN_AI_TOOL_CALL_ARGUMENTS, A.GEN_AI_TOOL_CALL_RESULT}


@pytest.fixture(params=MODES)
def mode(request, monkeypatch) -> str:
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, request.param)
    return request.param


def placed(span, keys: set[str]) -> tuple[set[str], set[str], int]:
    """(content keys on the span, content keys in inference-details events, how many events)."""
    events = [e for e in span.events if e.name == A.EVENT_INFERENCE_DETAILS]
    on_event = {k for e in events for k in keys if k in (e.attributes or {})}
    return {k for k in keys if k in span.attributes}, on_event, len(events)


def expected(mode: str, keys: set[str]) -> tuple[set[str], set[str], int]:
    return {
        "SPAN_ONLY": (keys, set(), 0),
        "EVENT_ONLY": (set(), keys, 1),
        "SPAN_AND_EVENT": (keys, keys, 1),
    }[mode]


def named(spans, name: str):
    (span,) = [s for s in spans if s.name == name]
    return span


def test_llm_decorator_output(mode, memory_spans) -> None:
    @llm("my-model", "vllm")
    def answer(question: str) -> str:
        return "the answer"

    assert answer("what?") == "the answer"
    span = named(memory_spans.get_finished_spans(), "chat my-model")
    keys = {A.GEN_AI_OUTPUT_MESSAGES}
    assert placed(span, keys) == expected(mode, keys)


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


@pytest.fixture
def langchain_on(mode, fanout) -> Iterator[None]:
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())  # reads the mode
    try:
        yield
    finally:
        instrumentor.uninstrument()


def test_langchain_model_and_tool(mode, langchain_on, memory_spans) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.text("Rainy.", usage=Usage(input_tokens=10, output_tokens=2)))
        model = ChatOpenAI(
            model="gpt-4o-mini", base_url=srv.openai_base_url, api_key="test", max_retries=0
        )
        assert model.invoke("Weather in Paris?").content == "Rainy."
    assert get_weather.invoke({"city": "Paris"}).startswith("14C")
    spans = memory_spans.get_finished_spans()
    assert placed(named(spans, "chat gpt-4o-mini"), MESSAGES) == expected(mode, MESSAGES)
    assert placed(named(spans, "execute_tool get_weather"), TOOL) == expected(mode, TOOL)


@function_tool
def weather_tool(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


@pytest.fixture
def agents_on(mode, fanout) -> Iterator[None]:
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), exclusive=True)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def test_agents_sdk_generation_and_function_tool(mode, agents_on, memory_spans) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(
            Reply.tool_calls(
                ToolCall("weather_tool", {"city": "Paris"}),
                usage=Usage(input_tokens=50, output_tokens=5),
            ),
            Reply.text("Rainy.", usage=Usage(input_tokens=80, output_tokens=2)),
        )
        client = AsyncOpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
        model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
        weather = Agent(name="weather", instructions="Answer.", tools=[weather_tool], model=model)
        result = asyncio.run(Runner.run(weather, "Weather in Paris?"))
    assert result.final_output == "Rainy."
    spans = memory_spans.get_finished_spans()
    generations = [s for s in spans if s.name == "chat gpt-4o-mini"]
    assert len(generations) == 2
    for span in generations:
        assert placed(span, MESSAGES) == expected(mode, MESSAGES)
    assert placed(named(spans, "execute_tool weather_tool"), TOOL) == expected(mode, TOOL)
