"""A LangGraph ReAct agent (langchain-openai ChatOpenAI, two tools), recorded by agentel.

Nothing in the agent mentions agentel: ``agentel.sdk.configure()`` switches on the
LangChain instrumentor (and the OpenAI one), and every graph run becomes one agentel run.

Run it: ``python examples/langgraph_agent.py "What's the weather in Paris?"`` (needs
``pip install 'agentel[langchain]' langgraph langchain-openai``). With ``OPENAI_API_KEY`` set it
talks to OpenAI; otherwise to agentel's local scripted server. Then: ``agentel runs`` and
``agentel show RUN``.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from langchain_core.tools import tool

WEATHER = {"paris": "14C, light rain", "london": "11C, overcast", "tokyo": "19C, clear"}
TIMES = {"paris": "14:05", "london": "13:05", "tokyo": "22:05"}


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return WEATHER.get(city.strip().lower(), "20C, sky unknown")


@tool
def get_local_time(city: str) -> str:
    """The local time in a city."""
    return TIMES.get(city.strip().lower(), "12:00")


def build_agent(model: Any) -> Any:
    """The prebuilt ReAct agent over ``model`` with both tools."""
    with warnings.catch_warnings():  # langgraph 1.x points to langchain.agents.create_agent
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(model, [get_weather, get_local_time], name="travel-agent")


def ask(graph: Any, question: str) -> str:
    result = graph.invoke({"messages": [("user", question)]})
    return str(result["messages"][-1].content)


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    from langchain_openai import ChatOpenAI

    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="langgraph-example")
    if os.environ.get("OPENAI_API_KEY"):
        graph = build_agent(ChatOpenAI(model="gpt-4o-mini"))
        for question in questions:
            print(ask(graph, question))
    else:
        from agentel.testing import Reply, ScriptedLLMServer, ToolCall, extract_argument

        with ScriptedLLMServer() as server:  # scripted: call both tools, then answer
            model = ChatOpenAI(
                model="gpt-4o-mini", base_url=server.openai_base_url, api_key="offline"
            )
            graph = build_agent(model)
            for question in questions:
                city = extract_argument(question)
                key = city.lower()
                server.enqueue(
                    Reply.tool_calls(
                        ToolCall("get_weather", {"city": city}),
                        ToolCall("get_local_time", {"city": city}),
                    ),
                    Reply.text(
                        f"In {city} it is {WEATHER.get(key, 'unknown')}; "
                        f"local time {TIMES.get(key, '12:00')}."
                    ),
                )
                print(ask(graph, question))
    handle.shutdown()


if __name__ == "__main__":
    main()
