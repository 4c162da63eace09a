"""A hand-written agent with a hand-written LLM client, instrumented with agentel's manual API.

No SDK and no framework: the model is called over plain HTTP (urllib), so agentel cannot
instrument anything by itself. The agent marks its own run (``agent``), each pass of its
loop (``iteration``), its plan and state changes (``record_event``), each model call
(``llm`` + ``set_model`` / ``set_usage``) and each tool (``@tool``), then scores the run
(``feedback``).

Run it: ``python examples/manual_agent.py "How many people live in Paris?"``. With
``OPENAI_API_KEY`` set it calls OpenAI's chat completions endpoint; otherwise agentel's local
scripted server. Then: ``agentel runs`` and ``agentel show RUN``.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

from agentel.instrumentation import agent, iteration, llm, record_event, set_model, set_usage, tool
from agentel.instrumentation.context import current_run_id

POPULATION = {"paris": 2_102_650, "london": 8_945_309, "tokyo": 14_094_034}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_population",
            "description": "The population of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@tool("lookup_population")
def lookup_population(city: str) -> dict[str, Any]:
    """A stand-in statistics service."""
    return {"city": city, "population": POPULATION.get(city.strip().lower())}


def complete(base_url: str, api_key: str, model: str, messages: list[dict], **extra: Any) -> dict:
    """One chat completion over plain HTTP, recorded as an LLM span with its usage."""
    with llm(model, "openai"):
        body = json.dumps({"model": model, "messages": messages, **extra}).encode()
        request = urllib.request.Request(
            base_url.rstrip("/") + "/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            reply = json.load(response)
        set_model(reply.get("model") or model)  # the model that actually answered
        usage = reply.get("usage") or {}
        set_usage(
            input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")
        )
        return reply["choices"][0]["message"]


def run_agent(
    base_url: str, api_key: str, question: str, model: str = "gpt-4o-mini"
) -> tuple[str, str | None]:
    """Answer ``question`` in at most 4 passes of a tool-calling loop: (answer, run id)."""
    with agent("population-agent", model=model):
        record_event("plan", steps=["look up the population", "answer"])
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": "Answer with the lookup_population tool."},
            {"role": "user", "content": question},
        ]
        for _ in range(4):
            with iteration() as it:
                message = complete(base_url, api_key, model, messages, tools=TOOLS)
                messages.append(message)
                calls = message.get("tool_calls") or []
                if not calls:
                    answer = message.get("content") or ""
                    break
                for call in calls:
                    arguments = json.loads(call["function"]["arguments"])
                    result = lookup_population(**arguments)
                    messages.append(
                        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}
                    )
                record_event("state_update", iteration=it.index, tool_results=len(calls))
        else:
            answer = "I could not finish within 4 passes."
        run_id = current_run_id()
    return answer, run_id


def main() -> None:
    """Answer the questions given on the command line (or a default one), then score them."""
    import agentel.sdk

    questions = sys.argv[1:] or ["How many people live in Paris?"]
    handle = agentel.sdk.configure(service_name="manual-agent")
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        results = [run_agent("https://api.openai.com/v1", key, q) for q in questions]
    else:
        from agentel.testing import ScriptedLLMServer

        with ScriptedLLMServer() as server:
            results = [run_agent(server.openai_base_url, "offline", q) for q in questions]
    handle.force_flush()  # the runs are in the store now
    for answer, run_id in results:
        print(f"{run_id}: {answer}")
        if run_id and handle.store_url:  # any process can do this later, e.g. a review UI
            agentel.sdk.feedback(run_id, 1.0, comment="checked by hand", store=handle.store_url)
    handle.shutdown()


if __name__ == "__main__":
    main()
