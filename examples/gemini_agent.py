"""A tool-calling weather agent on the google-genai SDK (Gemini), recorded by agentel.

Run it: ``python examples/gemini_agent.py "What's the weather in Paris?"``. With
``GEMINI_API_KEY`` set it talks to the Gemini API; otherwise to agentel's local scripted
server, which speaks the Gemini REST API. Then look at what it did: ``agentel runs`` and
``agentel show RUN``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from agentel.instrumentation import agent, tool

_WEATHER = {
    "paris": {"temp_c": 14, "sky": "light rain"},
    "london": {"temp_c": 11, "sky": "overcast"},
    "tokyo": {"temp_c": 19, "sky": "clear"},
}

GET_WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters_json_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
}


def get_weather(city: str) -> dict[str, Any]:
    """A stand-in weather service."""
    found = _WEATHER.get(city.strip().lower(), {"temp_c": 20, "sky": "unknown"})
    return {"city": city, **found}


def run_agent(client: Any, question: str, model: str = "gemini-2.5-flash") -> str:
    """Answer ``question``, calling get_weather as the model asks; one agentel run per call."""
    from google.genai import types

    config = types.GenerateContentConfig(
        system_instruction="You answer weather questions using the tools.",
        tools=[types.Tool(function_declarations=[types.FunctionDeclaration(**GET_WEATHER)])],
    )
    with agent("gemini-weather-agent", model=model):
        chat = client.chats.create(model=model, config=config)
        response = chat.send_message(question)
        for _ in range(5):
            calls = response.function_calls or []
            if not calls:
                return response.text or ""
            answers = []
            for call in calls:
                with tool(call.name, call_id=call.id):
                    result = get_weather(**(call.args or {}))
                answers.append(types.Part.from_function_response(name=call.name, response=result))
            response = chat.send_message(answers)
        return "I could not finish within the turn limit."


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    from google import genai
    from google.genai import types

    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="gemini-weather-agent")
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        client = genai.Client()
        for question in questions:
            print(run_agent(client, question))
    else:
        from agentel.testing import ScriptedLLMServer

        with ScriptedLLMServer() as server:
            options = types.HttpOptions(base_url=server.url)
            client = genai.Client(api_key="offline", http_options=options)
            for question in questions:
                print(run_agent(client, question))
    handle.shutdown()


if __name__ == "__main__":
    main()
