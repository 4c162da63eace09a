"""MCP tool calls through the real ``mcp`` SDK, to real servers in other processes.

The agent (in the test process) calls OpenAI through the scripted server and a tool on an MCP
server started by the test over stdio or Streamable HTTP. The server records its own spans
into the same SQLite file through ``agentel.sdk.configure()``, as a deployed server would.
The MCP SDK carries the trace context in the request's ``_meta``, so the store holds one trace
and one run, with the server's tool span under the client's ``execute_tool`` span.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from openai import OpenAI
from opentelemetry import trace
from runtree import IN, OUT, run_totals

from agentel.instrumentation import agent
from agentel.instrumentation.mcp import MCPInstrumentor
from agentel.instrumentation.mcp._client import tool_result_content
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

SERVER = Path(__file__).with_name("mcp_weather_server.py")


@pytest.fixture
def mcp_instrumented(fanout) -> Iterator[MCPInstrumentor]:
    instrumentor = MCPInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def _server_env(store_url: str, content: bool = False) -> dict[str, str]:
    return {
        "AGENTEL_STORE": store_url,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true" if content else "false",
    }


@asynccontextmanager
async def stdio_session(store_url: str, *, content: bool = False):
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(SERVER), "stdio"],
        env=_server_env(store_url, content),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server(sqlite_recording) -> Iterator[str]:
    """A Streamable HTTP MCP server process on a free port; yields its endpoint URL."""
    port = _free_port()
    env = {**os.environ, **_server_env(sqlite_recording.url)}
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(
                    f"MCP HTTP server did not start ({proc.returncode}): {proc.stderr.read().decode()}"
                )
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()  # SIGTERM: uvicorn shuts down and agentel flushes at exit
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(input_tokens=80, output_tokens=8),
        ),
        Reply.text("Rainy, 14C.", usage=Usage(input_tokens=120, output_tokens=3)),
    )


async def weather_agent(session: ClientSession, llm: ScriptedLLMServer) -> str:
    """A plain tool-calling loop whose tools live on an MCP server."""
    client = OpenAI(base_url=llm.openai_base_url, api_key="test", max_retries=0)
    messages: list[dict] = [{"role": "user", "content": "Weather in Paris?"}]
    with agent("mcp-weather-agent"):
        tools = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in (await session.list_tools()).tools
        ]
        while True:
            reply = (
                client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
                .choices[0]
                .message
            )
            if not reply.tool_calls:
                return reply.content or ""
            messages.append(reply.model_dump(exclude_none=True))
            for call in reply.tool_calls:
                result = await session.call_tool(
                    call.function.name, json.loads(call.function.arguments)
                )
                text = "\n".join(getattr(b, "text", "") for b in result.content)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": text})


def check_one_run(recording, *, provider_on: bool) -> dict:
    with recording.open() as store:
        runs = store.runs()
        spans = store.spans()
    assert len(runs) == 1, [r["name"] for r in runs]
    (run,) = runs
    assert run["name"] == "invoke_agent mcp-weather-agent"
    assert run_totals(run) == {
        "llm_calls": 2 if provider_on else 0,
        "tool_calls": 1,
        "errors": 0,
        "input_tokens": 200 if provider_on else 0,
        "output_tokens": 11 if provider_on else 0,
        "cost_usd": pytest.approx(200 * IN + 11 * OUT) if provider_on else 0,
    }
    assert {s["trace_id"] for s in spans} == {run["trace_id"]}
    by_id = {s["span_id"]: s for s in spans}
    client = next(s for s in spans if s["name"] == "execute_tool get_weather")
    server = next(s for s in spans if s["name"] == "tools/call get_weather")
    assert client["attributes"][A.MCP_METHOD_NAME] == "tools/call"
    assert client["attributes"][A.AGENTEL_MCP_SERVER_NAME] == "weather-server"
    assert client["kind"] == "client" and server["kind"] == "server"
    assert server["service_name"] == "weather-server"
    ancestors = []
    parent = server["parent_span_id"]
    while parent:
        ancestors.append(by_id[parent]["name"])
        parent = by_id[parent]["parent_span_id"]
    assert "execute_tool get_weather" in ancestors
    assert ancestors[-1] == "invoke_agent mcp-weather-agent"
    assert all(s["run_id"] == run["run_id"] for s in spans)
    # content is off by default, on both sides
    for span in (client, server):
        assert A.GEN_AI_TOOL_CALL_ARGUMENTS not in span["attributes"]
        assert A.GEN_AI_TOOL_CALL_RESULT not in span["attributes"]
    return {s["name"]: s for s in spans}


def test_stdio_server_tool_call_is_one_run(
    provider_instrumentor, mcp_instrumented, sqlite_recording
):
    async def main() -> str:
        with ScriptedLLMServer(auto=False) as llm:
            script(llm)
            async with stdio_session(sqlite_recording.url) as session:
                return await weather_agent(session, llm)

    assert asyncio.run(main()) == "Rainy, 14C."
    by_name = check_one_run(sqlite_recording, provider_on=provider_instrumentor)
    assert "tools/list" in by_name  # the listing is traced too, as a non-tool step


def test_streamable_http_server_tool_call_is_one_run(
    provider_instrumentor, mcp_instrumented, sqlite_recording, http_server
):
    async def main() -> str:
        with ScriptedLLMServer(auto=False) as llm:
            script(llm)
            async with (
                streamable_http_client(http_server) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await weather_agent(session, llm)

    assert asyncio.run(main()) == "Rainy, 14C."
    # the server process writes its spans at its own pace: wait until they are all in
    deadline = time.monotonic() + 15
    while True:
        with sqlite_recording.open() as store:
            names = {s["name"] for s in store.spans()}
        if "tools/call get_weather" in names or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check_one_run(sqlite_recording, provider_on=provider_instrumentor)


def test_tool_error_resources_prompts_and_content(mcp_instrumented, sqlite_recording, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    mcp_instrumented.uninstrument()
    mcp_instrumented.instrument(tracer_provider=trace.get_tracer_provider())

    async def main() -> None:
        async with stdio_session(sqlite_recording.url, content=True) as session:
            with agent("mcp-tour"):
                ok = await session.call_tool("get_weather", {"city": "Oslo"})
                assert not ok.is_error
                failed = await session.call_tool("flaky", {"city": "Lima"})
                assert failed.is_error
                await session.read_resource("notes://today")
                await session.get_prompt("forecast", {"city": "Rome"})

    asyncio.run(main())
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        spans = {s["name"]: s for s in store.spans() if s["kind"] != "server"}
        served = {s["name"]: s for s in store.spans() if s["kind"] == "server"}
    # one failed call, two failed spans: the client's and the server's (errors counts spans)
    assert (run["tool_calls"], run["errors"]) == (2, 2)
    failed = spans["execute_tool flaky"]
    assert (failed["status"], failed["error_type"]) == ("error", "tool_error")
    weather = spans["execute_tool get_weather"]["attributes"]
    assert weather[A.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"city":"Oslo"}'
    # MCPServer returns a structured result next to the text blocks: the structured one is kept
    assert weather[A.GEN_AI_TOOL_CALL_RESULT] == '{"result":"14C and light rain in Oslo"}'
    assert spans["resources/read"]["attributes"][A.MCP_RESOURCE_URI] == "notes://today"
    assert spans["prompts/get forecast"]["attributes"][A.GEN_AI_PROMPT_NAME] == "forecast"
    # the server records the same on the MCP SDK's own span
    server = served["tools/call get_weather"]["attributes"]
    assert server[A.GEN_AI_TOOL_CALL_ARGUMENTS] == '{"city":"Oslo"}'
    assert server[A.GEN_AI_TOOL_CALL_RESULT] == weather[A.GEN_AI_TOOL_CALL_RESULT]


def test_tool_result_content_reads_the_result_and_its_wire_form_alike():
    """Client (a ``CallToolResult``) and server (the dict a handler returns) record the same."""
    import mcp.types as t

    mixed = t.CallToolResult(
        content=[
            t.TextContent(type="text", text="14C"),
            t.ImageContent(type="image", data="aGk=", mimeType="image/png"),
        ]
    )
    structured = t.CallToolResult(
        content=[t.TextContent(type="text", text="x")], structuredContent={"a": 1}
    )
    for result, expected in ((mixed, "14C\n[image]"), (structured, {"a": 1})):
        wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        assert tool_result_content(result) == tool_result_content(wire) == expected


def test_uninstrument_restores_the_session(fanout, sqlite_recording):
    instrumentor = MCPInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    instrumentor.uninstrument()

    async def main() -> None:
        async with stdio_session(sqlite_recording.url) as session:
            await session.call_tool("get_weather", {"city": "Oslo"})

    asyncio.run(main())
    with sqlite_recording.open() as store:
        names = {s["name"] for s in store.spans()}
    assert "execute_tool get_weather" not in names
