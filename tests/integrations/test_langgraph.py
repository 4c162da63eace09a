"""A real LangGraph prebuilt ReAct agent (langchain-openai ChatOpenAI, 2 tools) against the
scripted server, recorded by LangChainInstrumentor into SQLite: one run, exact tree, tokens
and cost, identical with the OpenAI provider instrumentor on or off."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent
from opentelemetry import trace
from runtree import IN, OUT, run_totals, shape, tree

from agentel.instrumentation import agent
from agentel.instrumentation.langchain import LangChainInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


@tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_time", {"city": "Paris"}),
            usage=Usage(input_tokens=100, output_tokens=20),
        ),
        Reply.text("Rainy, and it is noon.", usage=Usage(input_tokens=150, output_tokens=10)),
    )


def react_agent(server: ScriptedLLMServer):
    model = ChatOpenAI(
        model="gpt-4o-mini", base_url=server.openai_base_url, api_key="test", max_retries=0
    )
    return create_react_agent(model, [get_weather, get_time], name="weather-agent")


QUESTION = {"messages": [("user", "Weather and time in Paris?")]}
EXPECTED_TOTALS = {
    "llm_calls": 2,
    "tool_calls": 2,
    "errors": 0,
    "input_tokens": 250,
    "output_tokens": 30,
    "cost_usd": pytest.approx(250 * IN + 30 * OUT),
}


def chat(provider_on: bool):
    provider = (tree("chat gpt-4o-mini"),) if provider_on else ()
    return tree("chat gpt-4o-mini", *provider)


@pytest.fixture
def langchain_instrumented(fanout) -> Iterator[LangChainInstrumentor]:
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), chain_spans=False)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def test_react_agent_is_one_run(provider_instrumentor, langchain_instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        result = react_agent(server).invoke(QUESTION)
    assert result["messages"][-1].content == "Rainy, and it is noon."
    assert langchain_instrumented.handler.open_runs() == 0
    assert not trace.get_current_span().get_span_context().is_valid  # nothing left attached

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = store.spans()
    assert run["agent_name"] == "weather-agent" and run["status"] == "ok"
    assert run_totals(run) == EXPECTED_TOTALS
    assert run["iterations"] == 2
    assert shape(root) == tree(
        "invoke_agent weather-agent",
        chat(provider_instrumentor),
        tree("execute_tool get_weather"),
        tree("execute_tool get_time"),
        chat(provider_instrumentor),
    )
    assert {s["run_id"] for s in spans} == {run["run_id"]}
    counted = [s for s in spans if s["counted"]]
    # one call per model request: LangChain's span, with ours nested in it when it is on
    scopes = {s["attributes"].get(A.AGENTEL_FRAMEWORK) for s in counted}
    assert scopes == {"langchain"} and len(counted) == 2
    tools = {s["tool_name"]: s for s in spans if s["category"] == "tool"}
    assert tools["get_weather"]["attributes"][A.GEN_AI_TOOL_CALL_ID].startswith("call_")


def test_async_graph_with_chain_steps_inside_a_manual_agent(
    provider_instrumentor, fanout, sqlite_recording
):
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())  # chain spans on

    async def main() -> str:
        with agent("assistant"):
            result = await react_agent(server).ainvoke(QUESTION)
            assert trace.get_current_span().is_recording()  # the manual agent, still current
        return result["messages"][-1].content

    try:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            assert asyncio.run(main()) == "Rainy, and it is noon."
        assert instrumentor.handler.open_runs() == 0
    finally:
        instrumentor.uninstrument()

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
    assert run["agent_name"] == "assistant"
    assert run_totals(run) == EXPECTED_TOTALS

    # LangGraph's own steps (langgraph 1.x prebuilt ReAct agent) become internal spans.
    def model_node():
        return tree(
            "agent",
            tree("call_model"),
            tree("RunnableSequence", tree("Prompt"), chat(provider_instrumentor)),
            tree("should_continue"),
        )

    assert shape(root) == tree(
        "invoke_agent assistant",
        tree(
            "invoke_agent weather-agent",
            model_node(),
            tree("tools", tree("execute_tool get_weather")),
            tree("tools", tree("execute_tool get_time")),
            model_node(),
        ),
    )


def test_uninstrument_stops_recording(fanout, sqlite_recording):
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    instrumentor.uninstrument()
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        react_agent(server).invoke(QUESTION)
    with sqlite_recording.open() as store:
        assert store.runs() == []


def test_root_operation_workflow_and_bad_values(fanout, sqlite_recording):
    instrumentor = LangChainInstrumentor()
    with pytest.raises(ValueError, match="'invoke_tool'"):
        instrumentor.instrument(root_operation="invoke_tool")
    instrumentor.instrument(
        tracer_provider=trace.get_tracer_provider(),
        root_operation="invoke_workflow",
        chain_spans=False,
    )
    try:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            react_agent(server).invoke(QUESTION)
    finally:
        instrumentor.uninstrument()
    with sqlite_recording.open() as store:
        (run,) = store.runs()
    assert run["name"] == "invoke_workflow weather-agent"
    assert run_totals(run) == EXPECTED_TOTALS
