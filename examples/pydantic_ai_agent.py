"""A Pydantic AI agent with one function tool, recorded by agentel.

Nothing in the agent mentions agentel: ``agentel.sdk.configure()`` switches on Pydantic AI's
own GenAI spans (with agentel's content setting: off unless opted in) and instruments the
OpenAI client it uses, so each ``agent.run_sync`` becomes one agentel run.

Run it: ``python examples/pydantic_ai_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[pydantic-ai]'``). With ``OPENAI_API_KEY`` set it talks to OpenAI;
otherwise to agentel's local scripted server. Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import os
import sys

from pydantic_ai import Agent

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}


def build_agent(model: object) -> Agent:
    """A weather agent whose only tool looks the weather up."""
    agent = Agent(model, name="weather", instructions="Answer with the get_weather tool.")

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return WEATHER.get(city.strip().lower(), "20C, sky unknown")

    return agent


def offline(questions: list[str]) -> None:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

    with ScriptedLLMServer() as server:
        provider = OpenAIProvider(base_url=server.openai_base_url, api_key="offline")
        agent = build_agent(OpenAIChatModel("gpt-4o-mini", provider=provider))
        for question in questions:
            city = extract_argument(question)
            server.enqueue(  # call the tool, then answer
                Reply.tool_calls(ToolCall("get_weather", {"city": city})),
                Reply.text(f"In {city} it is {WEATHER.get(city.lower(), 'unknown')}."),
            )
            print(agent.run_sync(question).output)


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="pydantic-ai-example")
    if os.environ.get("OPENAI_API_KEY"):
        agent = build_agent("openai:gpt-4o-mini")
        for question in questions:
            print(agent.run_sync(question).output)
    else:
        offline(questions)
    handle.shutdown()


if __name__ == "__main__":
    main()
