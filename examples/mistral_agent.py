"""A tool-calling weather agent on the ``mistralai`` SDK (``client.chat.complete``), recorded
by agentel.

Run it: ``python examples/mistral_agent.py "What's the weather in Paris?"``. With
``MISTRAL_API_KEY`` set it talks to Mistral's API (``MISTRAL_MODEL`` picks the model);
otherwise to agentel's local scripted server, which speaks Mistral's API.
Then look at what it did: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from agentel.instrumentation import agent, tool

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


def _arguments(raw: Any) -> dict[str, Any]:
    """Mistral sends a tool call's arguments as a JSON string or as an object."""
    return json.loads(raw) if isinstance(raw, str) else dict(raw)


def run_agent(client: Any, question: str, model: str, max_turns: int = 5) -> str:
    """Answer ``question``, calling get_weather as the model asks; one agentel run per call."""
    with agent("mistral-weather-agent", model=model):
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You answer weather questions using the tools."},
            {"role": "user", "content": question},
        ]
        for _ in range(max_turns):
            response = client.chat.complete(model=model, messages=messages, tools=TOOLS)
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                with tool(call.function.name, call_id=call.id):
                    result = get_weather(**_arguments(call.function.arguments))
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "name": call.function.name,
                        "content": json.dumps(result),
                    }
                )
        return "I could not finish within the turn limit."


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    from mistralai.client import Mistral  # `from mistralai import Mistral` in mistralai 1.x

    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="mistral-weather-agent")
    if os.environ.get("MISTRAL_API_KEY"):
        client = Mistral(api_key=os.environ["MISTRAL_API_KEY"])
        model = os.environ.get("MISTRAL_MODEL", "mistral-small-latest")
        for question in questions:
            print(run_agent(client, question, model))
    else:
        from agentel.testing import ScriptedLLMServer

        with ScriptedLLMServer() as server:
            client = Mistral(api_key="offline", server_url=server.mistral_base_url)
            for question in questions:
                print(run_agent(client, question, "mistral-small-latest"))
    handle.shutdown()


if __name__ == "__main__":
    main()
