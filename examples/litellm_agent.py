"""A tool-calling weather agent on LiteLLM (``litellm.completion``), recorded by agentel.

Run it: ``python examples/litellm_agent.py "What's the weather in Paris?"``. With
``OPENAI_API_KEY`` set it talks to OpenAI through LiteLLM (``LITELLM_MODEL`` picks another
provider, e.g. ``gemini/gemini-2.5-flash``); otherwise to agentel's local scripted server.
Then look at what it did: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from agentel.instrumentation import agent, tool

# LiteLLM fetches its model cost map when imported unless told to use the bundled one; this
# example must run offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]
_WEATHER = {
    "paris": {"temp_c": 14, "sky": "light rain"},
    "london": {"temp_c": 11, "sky": "overcast"},
    "tokyo": {"temp_c": 19, "sky": "clear"},
}


def get_weather(city: str) -> dict[str, Any]:
    """A stand-in weather service."""
    found = _WEATHER.get(city.strip().lower(), {"temp_c": 20, "sky": "unknown"})
    return {"city": city, **found}


def run_agent(question: str, model: str, max_turns: int = 5, **route: Any) -> str:
    """Answer ``question``, calling get_weather as the model asks; one agentel run per call."""
    import litellm

    with agent("litellm-weather-agent", model=model):
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You answer weather questions using the tools."},
            {"role": "user", "content": question},
        ]
        for _ in range(max_turns):
            response = litellm.completion(model=model, messages=messages, tools=TOOLS, **route)
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                with tool(call.function.name, call_id=call.id):
                    result = get_weather(**json.loads(call.function.arguments))
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )
        return "I could not finish within the turn limit."


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="litellm-weather-agent")
    if os.environ.get("OPENAI_API_KEY"):
        model = os.environ.get("LITELLM_MODEL", "gpt-4o-mini")
        for question in questions:
            print(run_agent(question, model))
    else:
        from agentel.testing import ScriptedLLMServer

        with ScriptedLLMServer() as server:
            route = {"api_base": server.openai_base_url, "api_key": "offline"}
            for question in questions:
                print(run_agent(question, "openai/gpt-4o-mini", **route))
    handle.shutdown()


if __name__ == "__main__":
    main()
