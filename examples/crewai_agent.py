"""A CrewAI crew with one agent, one task and one tool, recorded by agentel.

Nothing in the crew mentions agentel: ``agentel.sdk.configure()`` wraps CrewAI's kickoff,
tasks, agents, tools and LLM calls (and instruments the OpenAI client CrewAI's native OpenAI
LLM uses), so each ``crew.kickoff`` becomes one agentel run.

Run it: ``python examples/crewai_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[crewai]'``). With ``OPENAI_API_KEY`` set it talks to OpenAI; otherwise
to agentel's local scripted server. CrewAI's own telemetry and tracing are switched off here.
Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import LLM, Agent, Crew, Task  # after the settings above
from crewai.tools import tool

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}


@tool("get_weather")
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return WEATHER.get(city.strip().lower(), "20C, sky unknown")


def build_crew(llm: LLM) -> Crew:
    """A weather desk: one forecaster whose only tool looks the weather up."""
    forecaster = Agent(
        role="Forecaster",
        goal="Answer weather questions with the get_weather tool.",
        backstory="A meteorologist who always checks the current weather first.",
        tools=[get_weather],
        llm=llm,
    )
    forecast = Task(
        name="forecast",
        description="{question}",
        expected_output="One sentence with the weather.",
        agent=forecaster,
    )
    return Crew(name="weather-desk", agents=[forecaster], tasks=[forecast])


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="crewai-example")
    if os.environ.get("OPENAI_API_KEY"):
        crew = build_crew(LLM(model="gpt-4o-mini"))
        for question in questions:
            print(crew.kickoff(inputs={"question": question}).raw)
    else:
        from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

        with ScriptedLLMServer() as server:
            llm = LLM(model="gpt-4o-mini", base_url=server.openai_base_url, api_key="offline")
            crew = build_crew(llm)
            for question in questions:
                city = extract_argument(question)
                server.enqueue(  # call the tool, then answer
                    Reply.tool_calls(ToolCall("get_weather", {"city": city})),
                    Reply.text(f"In {city} it is {WEATHER.get(city.lower(), 'unknown')}."),
                )
                print(crew.kickoff(inputs={"question": question}).raw)
    handle.shutdown()


if __name__ == "__main__":
    main()
