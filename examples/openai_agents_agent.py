"""An OpenAI Agents SDK triage agent that hands off to a weather agent with a function tool,
recorded by agentel.

Nothing in the agents mentions agentel: ``agentel.sdk.configure()`` registers agentel's
tracing processor with the SDK (and instruments the OpenAI client), so each ``Runner.run``
becomes one agentel run.

Run it: ``python examples/openai_agents_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[openai-agents]'``). With ``OPENAI_API_KEY`` set it talks to OpenAI
(and the SDK also sends its traces to OpenAI, as it does by default); otherwise it talks to
agentel's local scripted server and the SDK's own trace export is switched off.
Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from agents import Agent, RunConfig, Runner, function_tool

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return WEATHER.get(city.strip().lower(), "20C, sky unknown")


def build_agents(model: Any) -> Agent:
    """A triage agent that hands weather questions to a weather agent."""
    weather = Agent(
        name="weather",
        instructions="Answer weather questions with the get_weather tool.",
        tools=[get_weather],
        model=model,
    )
    return Agent(
        name="triage",
        instructions="Hand weather questions to the weather agent.",
        handoffs=[weather],
        model=model,
    )


async def ask(triage: Agent, question: str) -> str:
    result = await Runner.run(triage, question, run_config=RunConfig(workflow_name="weather-desk"))
    return str(result.final_output)


async def offline(questions: list[str]) -> None:
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI

    from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

    with ScriptedLLMServer() as server:
        client = AsyncOpenAI(base_url=server.openai_base_url, api_key="offline")
        triage = build_agents(OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))
        for question in questions:
            city = extract_argument(question)
            server.enqueue(  # hand off, call the tool, answer
                Reply.tool_calls(ToolCall("transfer_to_weather", {})),
                Reply.tool_calls(ToolCall("get_weather", {"city": city})),
                Reply.text(f"In {city} it is {WEATHER.get(city.lower(), 'unknown')}."),
            )
            print(await ask(triage, question))


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    online = bool(os.environ.get("OPENAI_API_KEY"))
    if not online:
        from agents import set_trace_processors

        set_trace_processors([])  # offline: no export of the SDK's traces to OpenAI
    handle = agentel.sdk.configure(service_name="openai-agents-example")
    if online:
        triage = build_agents("gpt-4o-mini")
        for question in questions:
            print(asyncio.run(ask(triage, question)))
    else:
        asyncio.run(offline(questions))
    handle.shutdown()


if __name__ == "__main__":
    main()
