"""A real OpenAI Agents SDK run (chat-completions model over AsyncOpenAI, a function tool, a
handoff and an input guardrail) against the scripted server, recorded by
OpenAIAgentsInstrumentor into SQLite: one run, exact tree, tokens and cost, identical with the
OpenAI provider instrumentor on or off. The SDK's own exporter is replaced: no network."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIChatCompletionsModel,
    Runner,
    function_tool,
    input_guardrail,
)
from openai import AsyncOpenAI
from opentelemetry import trace
from runtree import IN, OUT, run_totals, shape, tree

from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


@input_guardrail
def polite(context, agent, user_input) -> GuardrailFunctionOutput:
    """Trips on rude questions."""
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="stupid" in str(user_input))


def agents_for(server: ScriptedLLMServer) -> Agent:
    client = AsyncOpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
    weather = Agent(
        name="weather", instructions="Answer weather questions.", tools=[get_weather], model=model
    )
    return Agent(
        name="triage",
        instructions="Hand weather questions to the weather agent.",
        handoffs=[weather],
        input_guardrails=[polite],
        model=model,
    )


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("transfer_to_weather", {}), usage=Usage(input_tokens=50, output_tokens=5)
        ),
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(input_tokens=80, output_tokens=8),
        ),
        Reply.text("Rainy, 14C.", usage=Usage(input_tokens=120, output_tokens=3)),
    )


@pytest.fixture
def agents_instrumented(fanout) -> Iterator[OpenAIAgentsInstrumentor]:
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), exclusive=True)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def chat(provider_on: bool):
    provider = (tree("chat gpt-4o-mini"),) if provider_on else ()
    return tree("chat gpt-4o-mini", *provider)


def test_agent_with_tool_and_handoff_is_one_run(
    provider_instrumentor, agents_instrumented, sqlite_recording
):
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        result = asyncio.run(Runner.run(agents_for(server), "What's the weather in Paris?"))
    assert result.final_output == "Rainy, 14C."
    assert agents_instrumented.processor.open_spans() == 0
    assert len(agents_instrumented.processor.attachments) == 0

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = store.spans()
    assert run["name"] == "invoke_workflow Agent workflow" and run["status"] == "ok"
    assert run_totals(run) == {
        "llm_calls": 3,
        "tool_calls": 1,
        "errors": 0,
        "input_tokens": 250,
        "output_tokens": 16,
        "cost_usd": pytest.approx(250 * IN + 16 * OUT),
    }
    assert run["iterations"] == 3  # the SDK's turns, across the hand-off
    assert shape(root) == tree(
        "invoke_workflow Agent workflow",
        tree(
            "invoke_agent triage",
            tree("guardrail polite"),
            chat(provider_instrumentor),
            tree("handoff weather"),
        ),
        tree(
            "invoke_agent weather",
            chat(provider_instrumentor),
            tree("execute_tool get_weather"),
            chat(provider_instrumentor),
        ),
    )
    by_name = {s["name"]: s for s in spans}
    assert by_name["handoff weather"]["attributes"][A.AGENTEL_HANDOFF_FROM] == "triage"
    assert by_name["guardrail polite"]["attributes"][A.AGENTEL_GUARDRAIL_TRIGGERED] is False
    turns = sorted(s["iteration"] for s in spans if s["category"] == "llm" and s["counted"])
    assert turns == [0, 1, 2]
    assert root["attributes"][A.AGENTEL_RUN_ITERATIONS] == 3


def test_tripped_guardrail_is_an_error_run(agents_instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server, pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agents_for(server), "A stupid question"))
    assert agents_instrumented.processor.open_spans() == 0

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        spans = {s["name"]: s for s in store.spans()}
    guardrail = spans["guardrail polite"]
    assert guardrail["attributes"][A.AGENTEL_GUARDRAIL_TRIGGERED] is True
    assert (guardrail["status"], guardrail["error_type"]) == (
        "error",
        "agents.GuardrailTripwireTriggered",
    )
    assert set(spans) == {
        "invoke_workflow Agent workflow",
        "invoke_agent triage",
        "guardrail polite",
    }
    assert (run["status"], run["errors"], run["llm_calls"]) == ("error", 2, 0)


def test_uninstrument_removes_the_processor(fanout, sqlite_recording):
    from agents.tracing import get_trace_provider

    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), exclusive=True)
    processor = instrumentor.processor
    instrumentor.uninstrument()
    assert processor not in get_trace_provider()._multi_processor._processors
    with ScriptedLLMServer(auto=False) as server:
        script(server)
        asyncio.run(Runner.run(agents_for(server), "What's the weather in Paris?"))
    with sqlite_recording.open() as store:
        assert store.runs() == []
