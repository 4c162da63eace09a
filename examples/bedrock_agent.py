"""A tool-calling weather agent on Amazon Bedrock's Converse API (boto3), recorded by agentel.

Run it: ``python examples/bedrock_agent.py "What's the weather in Paris?"``. With AWS
credentials in the environment (``AWS_ACCESS_KEY_ID`` or ``AWS_PROFILE``) it talks to
Bedrock in ``AWS_REGION`` (default us-east-1); otherwise to agentel's local scripted server,
which speaks the Bedrock runtime API, with fake credentials. Then look at what it did:
``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from agentel.instrumentation import agent, tool

MODEL = "us.amazon.nova-pro-v1:0"
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Current weather for a city.",
                "inputSchema": {
                    "json": {
                        "type": "object",
                        "properties": {"city": {"type": "string", "description": "City name"}},
                        "required": ["city"],
                    }
                },
            }
        }
    ]
}
_WEATHER = {
    "paris": {"temp_c": 14, "sky": "light rain"},
    "london": {"temp_c": 11, "sky": "overcast"},
    "tokyo": {"temp_c": 19, "sky": "clear"},
}


def get_weather(city: str) -> dict[str, Any]:
    """A stand-in weather service."""
    found = _WEATHER.get(city.strip().lower(), {"temp_c": 20, "sky": "unknown"})
    return {"city": city, **found}


def run_agent(client: Any, question: str, model: str = MODEL, max_turns: int = 5) -> str:
    """Answer ``question``, calling get_weather as the model asks; one agentel run per call."""
    with agent("bedrock-weather-agent", model=model):
        messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": question}]}]
        system = [{"text": "You answer weather questions using the tools."}]
        for _ in range(max_turns):
            response = client.converse(
                modelId=model, messages=messages, system=system, toolConfig=TOOLS
            )
            message = response["output"]["message"]
            messages.append(message)
            uses = [block["toolUse"] for block in message["content"] if "toolUse" in block]
            if not uses:
                return "".join(block.get("text", "") for block in message["content"])
            results = []
            for use in uses:
                with tool(use["name"], call_id=use["toolUseId"]):
                    result = get_weather(**use["input"])
                results.append(
                    {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": result}]}}
                )
            messages.append({"role": "user", "content": results})
        return "I could not finish within the turn limit."


def main() -> None:
    """Answer the questions given on the command line (or a default one)."""
    import boto3

    import agentel.sdk

    questions = sys.argv[1:] or ["What's the weather in Paris?"]
    handle = agentel.sdk.configure(service_name="bedrock-weather-agent")
    region = os.environ.get("AWS_REGION", "us-east-1")
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        client = boto3.client("bedrock-runtime", region_name=region)
        for question in questions:
            print(run_agent(client, question))
    else:
        from agentel.testing import ScriptedLLMServer

        with ScriptedLLMServer() as server:
            client = boto3.client(
                "bedrock-runtime",
                region_name=region,
                endpoint_url=server.url,
                aws_access_key_id="offline",
                aws_secret_access_key="offline",
            )
            for question in questions:
                print(run_agent(client, question))
    handle.shutdown()


if __name__ == "__main__":
    main()
