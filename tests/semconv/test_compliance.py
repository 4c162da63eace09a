"""Compliance: every attribute key agentel's instrumentation emits is registered.

``tests/conftest.py`` collects the keys of every span whose instrumentation scope is agentel's,
from the session's global provider and from the private providers of tests/instrumentation;
the session-wide test here is ordered last so it sees all of them. It also makes
representative calls of its own, so it checks something when run alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider

from agentel.instrumentation import agent, llm, record_event, tool
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.semconv.compliance import official_attribute_keys, violations
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage


def test_violations_flag_unknown_keys_in_convention_namespaces():
    problems = violations(
        [
            "agentel.bogus",  # ours, unregistered
            "gen_ai.usage.bogus_tokens",  # the GenAI namespace, neither official nor ours
            "openai.request.bogus",  # an official namespace
            "server.address",  # official and registered
            "gen_ai.usage.cost",  # ours, registered
            "custom.key",  # the application's own
            "x",
        ],
        event_names=["gen_ai.bogus.event", "agentel.my_step", "gen_ai.evaluation.result"],
    )
    assert problems == [
        "agentel.bogus: not in the official registry nor in registry.json",
        "event gen_ai.bogus.event: gen_ai. event not listed in registry.json",
        "gen_ai.usage.bogus_tokens: not in the official registry nor in registry.json",
        "openai.request.bogus: not in the official registry nor in registry.json",
    ]


def test_an_official_key_missing_from_the_registry_is_flagged():
    assert "http.request.method" in official_attribute_keys()
    assert violations(["http.request.method"]) == [
        "http.request.method: official key emitted but not listed in registry.json"
    ]


@pytest.fixture
def openai_provider(emitted_keys) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(emitted_keys)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def _representative_calls(server: ScriptedLLMServer) -> None:
    """Every concept the manual API and the OpenAI instrumentor emit, through real code."""
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0)
    usage = Usage(input_tokens=900, output_tokens=120, cached_tokens=300, reasoning_tokens=40)
    server.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}), usage=usage),
        Reply.text("Sunny.", usage=usage),
        Reply.error(500, "boom"),
    )
    with agent(
        "planner",
        id="agent-1",
        description="plans trips",
        version="1.0",
        model="gpt-4o",
        conversation_id="conv-1",
        user_id="user-1",
    ) as run:
        record_event("plan", **{A.AGENTEL_PLAN_STEP_COUNT: 2, A.AGENTEL_PLAN_REVISION: 0})
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
            temperature=0.2,
            top_p=0.9,
            max_tokens=100,
            seed=7,
            stop=["\n\n"],
            frequency_penalty=0.1,
            presence_penalty=0.1,
            n=2,
            service_tier="flex",
            response_format={"type": "json_object"},
        )
        with tool("get_weather", call_id="call-1", description="weather lookup"):
            pass
        with agent("researcher", workflow=False), llm("my-local-model", "vllm") as call:
            call.set_usage(input_tokens=10, output_tokens=5, reasoning_tokens=1)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ok"}])
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "again"}]
            )
        with pytest.raises(ValueError), tool("broken"):
            raise ValueError("no such city")
        run.record_event("state_update", **{A.AGENTEL_STATE_KEYS: ["city"]})
    with agent("nightly", workflow=True):
        pass


def test_every_key_emitted_in_the_session_is_registered(emitted_keys, fanout, openai_provider):
    with ScriptedLLMServer(auto=False) as server:
        _representative_calls(server)
    for key in (A.GEN_AI_USAGE_COST, A.AGENTEL_RUN_ID, A.GEN_AI_TOOL_TYPE, A.ERROR_TYPE):
        assert key in emitted_keys.keys  # the collector really saw our spans
    assert "exception" in emitted_keys.event_names
    problems = violations(emitted_keys.keys, emitted_keys.event_names)
    where = {p: emitted_keys.keys.get(p.split(":", 1)[0]) for p in problems}
    assert not problems, f"unregistered keys (key: first span): {where}"
