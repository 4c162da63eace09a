"""Round trips of real agents: record each against the scripted server with content capture
on (real SDKs over real HTTP, real SQLite store), then run it again against its recording
alone, with no scripted server of its own. Each re-run must make the same tool calls with
the same arguments and outputs and record the same tokens, and ``agentel diff`` must exit 0
on the pair. The frameworks: a LangGraph ReAct agent, an OpenAI Agents SDK triage agent with
a handoff, and an Anthropic streaming tool-use loop."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from click.testing import CliRunner
from opentelemetry import trace

from agentel.cli.main import main as agentel
from agentel.instrumentation import agent, tool
from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.instrumentation.langchain import LangChainInstrumentor
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from agentel.testing import ReplayMismatch, Reply, ScriptedLLMServer, ToolCall, Usage, replay

ROOT = Path(__file__).resolve().parents[2]


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"rerun_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instrumented(fanout) -> Iterator[None]:
    """Every agentel instrumentor these agents need, content capture on, global provider."""
    provider = trace.get_tracer_provider()
    instrumentors: list[Any] = []
    for instrumentor, options in (
        (OpenAIInstrumentor(), {"capture_content": True}),
        (AnthropicInstrumentor(), {"capture_content": True}),
        (LangChainInstrumentor(), {"capture_content": True, "chain_spans": False}),
        (OpenAIAgentsInstrumentor(), {"capture_content": True, "exclusive": True}),
    ):
        instrumentor.instrument(tracer_provider=provider, **options)
        instrumentors.append(instrumentor)
    try:
        yield
    finally:
        for instrumentor in reversed(instrumentors):
            instrumentor.uninstrument()


def newest(recording) -> str:
    with recording.open() as store:
        return store.runs(limit=1)[0]["run_id"]


def round_trip(recording, recorded: str, rerun: Callable[[Any], Any]) -> str:
    """Re-run against ``recorded`` alone; check behaviour, tokens and `agentel diff`."""
    with replay(recorded, store=recording.url) as served:
        rerun(served)
    assert served.divergences == [] and served.unserved == []
    again = newest(recording)
    assert again != recorded
    with recording.open() as store:
        found = store.diff(recorded, again)
    assert found["same"] is True and found["content"] is True, found["steps"]
    for name in ("input_tokens", "output_tokens", "llm_calls", "tool_calls", "cost_usd"):
        assert found["totals"][name]["delta"] == 0, name
    tools = [s for s in found["steps"] if s["a"]["kind"] == "tool"]
    assert tools and all(s["a"]["arguments"] == s["b"]["arguments"] for s in tools)
    assert all(s["a"]["output"] == s["b"]["output"] for s in tools)
    exit = CliRunner().invoke(agentel, ["diff", recorded, again, "--store", recording.url])
    assert exit.exit_code == 0, exit.output
    return again


def test_langgraph_agent_round_trip(instrumented, sqlite_recording):
    from langchain_openai import ChatOpenAI

    example = _example("langgraph_agent")
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.tool_calls(
                ToolCall("get_weather", {"city": "Paris"}),
                ToolCall("get_local_time", {"city": "Paris"}),
            ),
            Reply.text("In Paris it is 14C, light rain; local time 14:05."),
        )
        model = ChatOpenAI(model="gpt-4o-mini", base_url=server.openai_base_url, api_key="k")
        answer = example.ask(example.build_agent(model), "Weather in Paris?")
    recorded = newest(sqlite_recording)

    def rerun(served) -> None:
        model = ChatOpenAI(model="gpt-4o-mini", base_url=served.openai_base_url, api_key="k")
        assert example.ask(example.build_agent(model), "Weather in Paris?") == answer

    round_trip(sqlite_recording, recorded, rerun)


def test_openai_agents_sdk_round_trip(instrumented, sqlite_recording):
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI

    example = _example("openai_agents_agent")

    def triage(base_url: str) -> Any:
        client = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
        return example.build_agents(
            OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client)
        )

    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.tool_calls(ToolCall("transfer_to_weather", {})),
            Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
            Reply.text("In Paris it is 14C, light rain."),
        )
        answer = asyncio.run(example.ask(triage(server.openai_base_url), "Weather in Paris?"))
    recorded = newest(sqlite_recording)

    def rerun(served) -> None:
        again = asyncio.run(example.ask(triage(served.openai_base_url), "Weather in Paris?"))
        assert again == answer

    round_trip(sqlite_recording, recorded, rerun)


# --- an Anthropic streaming tool-use loop -----------------------------------------------------
TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]
SYSTEM = "You answer weather questions using the tools."


def anthropic_loop(client: anthropic.Anthropic, question: str, system: str = SYSTEM) -> str:
    """Stream each answer, run the tools it asks for, until it answers in text."""
    with agent("claude-weather"):
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for _ in range(4):
            with client.messages.stream(
                model="claude-sonnet-4-6",
                max_tokens=512,
                system=system,
                messages=messages,
                tools=TOOLS,
            ) as stream:
                message = stream.get_final_message()
            messages.append(
                {
                    "role": "assistant",
                    "content": [block.model_dump(exclude_none=True) for block in message.content],
                }
            )
            uses = [block for block in message.content if block.type == "tool_use"]
            if not uses:
                return "".join(block.text for block in message.content if block.type == "text")
            results = []
            for use in uses:
                with tool(use.name, call_id=use.id):
                    result = {"city": use.input["city"], "temp_c": 14}
                results.append(
                    {"type": "tool_result", "tool_use_id": use.id, "content": json.dumps(result)}
                )
            messages.append({"role": "user", "content": results})
        return ""


def _record_anthropic(recording) -> tuple[str, str]:
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.tool_calls(
                ToolCall("get_weather", {"city": "Paris"}),
                text="Let me look.",
                usage=Usage(input_tokens=300, output_tokens=40, cached_tokens=200),
            ),
            Reply.text("It is 14C in Paris.", usage=Usage(input_tokens=380, output_tokens=12)),
        )
        client = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k")
        answer = anthropic_loop(client, "Weather in Paris?")
    return newest(recording), answer


def test_anthropic_streaming_tool_loop_round_trip(instrumented, sqlite_recording):
    recorded, answer = _record_anthropic(sqlite_recording)

    def rerun(served) -> None:
        client = anthropic.Anthropic(max_retries=0)  # ANTHROPIC_BASE_URL points at the replay
        assert anthropic_loop(client, "Weather in Paris?") == answer

    again = round_trip(sqlite_recording, recorded, rerun)
    with sqlite_recording.open() as store:
        assert (
            store.run(again)["cache_read_tokens"] == store.run(recorded)["cache_read_tokens"] == 200
        )


def test_a_changed_system_prompt_fails_strict_naming_the_message(instrumented, sqlite_recording):
    recorded, _ = _record_anthropic(sqlite_recording)
    with pytest.raises(ReplayMismatch) as failed, replay(recorded, store=sqlite_recording.url):
        anthropic_loop(anthropic.Anthropic(max_retries=0), "Weather in Paris?", system="Be brief.")
    assert str(failed.value) == (
        'call 1: system[0].content differs: "You answer weather questions using the tools." '
        '(recorded call 1, anthropic claude-sonnet-4-6) vs "Be brief."'
    )


# --- a google-genai (Gemini API) tool loop --------------------------------------------------
def gemini_loop(client: Any, question: str) -> str:
    """Ask, run the function the model calls, send its result back, return the answer."""
    from google.genai import types

    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Current weather for a city.",
        parameters_json_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    config = types.GenerateContentConfig(
        system_instruction=SYSTEM,
        tools=[types.Tool(function_declarations=[weather])],
        temperature=0.2,
    )
    contents: list[Any] = [types.Content(role="user", parts=[types.Part(text=question)])]
    with agent("gemini-weather"):
        for _ in range(4):
            response = client.models.generate_content(
                model="gemini-2.5-flash", contents=contents, config=config
            )
            calls = response.function_calls or []
            if not calls:
                return response.text or ""
            contents.append(response.candidates[0].content)
            for call in calls:
                with tool(call.name):
                    result = {"city": call.args["city"], "temp_c": 14}
                contents.append(
                    types.Content(
                        role="user",
                        parts=[types.Part.from_function_response(name=call.name, response=result)],
                    )
                )
        return ""


def test_gemini_tool_loop_round_trip(fanout, sqlite_recording):
    from google import genai
    from google.genai import types

    from agentel.instrumentation.google_genai import GoogleGenAIInstrumentor

    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
    try:
        with ScriptedLLMServer(auto=False) as server:
            server.enqueue(
                Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
                Reply.text("It is 14C in Paris.", usage=Usage(input_tokens=90, output_tokens=9)),
            )
            options = types.HttpOptions(base_url=server.url)
            answer = gemini_loop(genai.Client(api_key="k", http_options=options), "Paris?")
        recorded = newest(sqlite_recording)

        def rerun(served) -> None:
            client = genai.Client()  # GOOGLE_GEMINI_BASE_URL and GEMINI_API_KEY from the replay
            assert gemini_loop(client, "Paris?") == answer

        round_trip(sqlite_recording, recorded, rerun)
    finally:
        instrumentor.uninstrument()


# --- a Bedrock Converse tool loop (boto3) -------------------------------------------------------
def bedrock_loop(client: Any, question: str) -> str:
    """Converse, run the tool the model asks for, send its result back, return the answer."""
    tools = {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "inputSchema": {"json": TOOLS[0]["input_schema"]},
                }
            }
        ]
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": question}]}]
    with agent("bedrock-weather"):
        for _ in range(4):
            response = client.converse(
                modelId="anthropic.claude-3-5-haiku-20241022-v1:0",
                system=[{"text": SYSTEM}],
                messages=messages,
                toolConfig=tools,
                inferenceConfig={"maxTokens": 256, "temperature": 0.1},
            )
            message = response["output"]["message"]
            messages.append(message)
            uses = [block["toolUse"] for block in message["content"] if "toolUse" in block]
            if not uses:
                return "".join(block.get("text", "") for block in message["content"])
            results = []
            for use in uses:
                with tool(use["name"], call_id=use["toolUseId"]):
                    result = {"city": use["input"]["city"], "temp_c": 14}
                results.append(
                    {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": result}]}}
                )
            messages.append({"role": "user", "content": results})
        return ""


def test_bedrock_converse_tool_loop_round_trip(fanout, sqlite_recording):
    import boto3

    from agentel.instrumentation.bedrock import BedrockInstrumentor

    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider(), capture_content=True)
    try:
        with ScriptedLLMServer(auto=False) as server:
            server.enqueue(
                Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
                Reply.text("It is 14C in Paris.", usage=Usage(input_tokens=90, output_tokens=9)),
            )
            client = boto3.client(
                "bedrock-runtime",
                region_name="us-east-1",
                endpoint_url=server.url,
                aws_access_key_id="AKIDAGENTELTEST",
                aws_secret_access_key="not-a-secret",
            )
            answer = bedrock_loop(client, "Paris?")
        recorded = newest(sqlite_recording)

        def rerun(served) -> None:
            client = boto3.client("bedrock-runtime")  # endpoint and region from the replay
            assert bedrock_loop(client, "Paris?") == answer

        round_trip(sqlite_recording, recorded, rerun)
    finally:
        instrumentor.uninstrument()
