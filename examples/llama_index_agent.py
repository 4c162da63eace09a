"""A LlamaIndex FunctionAgent with one function tool, recorded by agentel.

Nothing in the agent mentions agentel: ``agentel.sdk.configure()`` adds agentel's span and
event handlers to LlamaIndex's instrumentation dispatcher (and instruments the OpenAI client
LlamaIndex's OpenAI LLM uses), so each ``agent.run`` becomes one agentel run.

Run it: ``python examples/llama_index_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[llama-index]' llama-index-llms-openai``). With ``OPENAI_API_KEY`` set
it talks to OpenAI; otherwise to agentel's local scripted server.
Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import asyncio
import os
import sys

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.llms.openai import OpenAI

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return WEATHER.get(city.strip().lower(), "20C, sky unknown")


def build_agent(llm: OpenAI) -> FunctionAgent:
    """A weather agent whose only tool looks the weather up."""
    return FunctionAgent(
        name="weather",
        tools=[get_weather],
        llm=llm,
        system_prompt="Answer with the get_weather tool.",
        streaming=False,
    )


async def ask(agent: FunctionAgent, question: str) -> str:
    return str(await agent.run(question))


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="llama-index-example")
    if os.environ.get("OPENAI_API_KEY"):
        agent = build_agent(OpenAI(model="gpt-4o-mini"))
        for question in questions:
            print(asyncio.run(ask(agent, question)))
    else:
        from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

        with ScriptedLLMServer() as server:
            llm = OpenAI(model="gpt-4o-mini", api_base=server.openai_base_url, api_key="offline")
            agent = build_agent(llm)
            for question in questions:
                city = extract_argument(question)
                server.enqueue(  # call the tool, then answer
                    Reply.tool_calls(ToolCall("get_weather", {"city": city})),
                    Reply.text(f"In {city} it is {WEATHER.get(city.lower(), 'unknown')}."),
                )
                print(asyncio.run(ask(agent, question)))
    handle.shutdown()


if __name__ == "__main__":
    main()
