"""An agent whose tool lives on an MCP server in another process, recorded by agentel as one run.

The agent is a plain tool-calling loop on the ``openai`` SDK; its tools come from an MCP
server (this same file, started with ``--serve`` over stdio). Both processes call
``agentel.sdk.configure()``; the MCP SDK carries the trace context in each request's
``_meta``, so the server's tool span joins the agent's trace and the store shows one run.

Run it: ``python examples/mcp_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[openai,mcp]'``). With ``OPENAI_API_KEY`` set it talks to OpenAI;
otherwise to agentel's local scripted server. Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}


def serve() -> None:
    """The MCP server: one tool, over stdio."""
    from mcp.server.mcpserver import MCPServer

    import agentel.sdk

    agentel.sdk.configure(service_name="weather-mcp-server", instrument=["mcp"])
    server = MCPServer("weather-server")

    @server.tool()
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER.get(city.strip().lower(), "20C, sky unknown")

    server.run()


async def ask(client: Any, model: str, question: str) -> str:
    """Start the MCP server, then loop: ask the model, call the tools it picks, answer."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from agentel.instrumentation import agent

    store = os.environ.get("AGENTEL_STORE", "sqlite:///agentel.db")
    params = StdioServerParameters(
        command=sys.executable, args=[__file__, "--serve"], env={"AGENTEL_STORE": store}
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with agent("mcp-weather-agent"):
            listed = (await session.list_tools()).tools
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.input_schema,
                    },
                }
                for t in listed
            ]
            messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
            while True:
                reply = (
                    client.chat.completions.create(model=model, messages=messages, tools=tools)
                    .choices[0]
                    .message
                )
                if not reply.tool_calls:
                    return reply.content or ""
                messages.append(reply.model_dump(exclude_none=True))
                for call in reply.tool_calls:
                    arguments = json.loads(call.function.arguments)
                    result = await session.call_tool(call.function.name, arguments)
                    text = "\n".join(getattr(block, "text", "") for block in result.content)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": text})


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    from openai import OpenAI

    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="mcp-example")
    if os.environ.get("OPENAI_API_KEY"):
        for question in questions:
            print(asyncio.run(ask(OpenAI(), "gpt-4o-mini", question)))
    else:
        from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

        with ScriptedLLMServer() as server:
            client = OpenAI(base_url=server.openai_base_url, api_key="offline")
            for question in questions:
                city = extract_argument(question)
                server.enqueue(  # call the tool, then answer
                    Reply.tool_calls(ToolCall("get_weather", {"city": city})),
                    Reply.text(f"In {city} it is {WEATHER.get(city.lower(), 'unknown')}."),
                )
                print(asyncio.run(ask(client, "gpt-4o-mini", question)))
    handle.shutdown()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
