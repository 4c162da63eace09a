"""Replaying recorded runs in-process: the real weather agent on the real openai SDK is recorded
against the scripted server (content capture on) into a real SQLite store, then run again
against its recording alone, with no scripted server of the test's own."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.store import Store
from agentel.testing import (
    Cassette,
    CassetteError,
    ReplayMismatch,
    Reply,
    ScriptedLLMServer,
    ToolCall,
    replay,
)
from agentel.testing._cassette import secret_redactor

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-proj-Abcdefghijklmnop0123456789"


def _weather():
    spec = importlib.util.spec_from_file_location(
        "weather_replayed", ROOT / "examples" / "weather_agent.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WEATHER = _weather()


@pytest.fixture
def instrumented(sqlite_recording) -> Iterator[Callable[..., None]]:
    """``instrument(**settings)`` switches the OpenAI instrumentor on for the test, spans
    going to ``sqlite_recording`` (content capture on unless said otherwise)."""
    instrumentor = OpenAIInstrumentor()

    def instrument(**settings) -> None:
        instrumentor.instrument(**{"capture_content": True, **settings})

    yield instrument
    instrumentor.uninstrument()


@pytest.fixture
def store(sqlite_recording) -> Iterator[Store]:
    with sqlite_recording.open() as opened:
        yield opened


def record(question: str, *replies: Reply, **kw) -> str:
    """Run the weather agent once against the scripted server (AUTO without replies)."""
    with ScriptedLLMServer(replies) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key=KEY, max_retries=0)
        return WEATHER.run_agent(client, question, **kw)


def newest(store: Store) -> str:
    return store.runs(limit=1)[0]["run_id"]


def test_a_rerun_against_the_recording_alone_does_the_same(instrumented, store):
    instrumented()
    answer = record("What's the weather in Paris?")
    recorded = newest(store)
    with replay(recorded, store=store) as served:
        client = openai.OpenAI(max_retries=0)  # OPENAI_BASE_URL points at the replay
        assert WEATHER.run_agent(client, "What's the weather in Paris?") == answer
    assert [c.index for c in served.served] == [1, 2] and served.divergences == []
    again = newest(store)
    assert again != recorded
    found = store.diff(recorded, again)
    assert found["same"] is True and found["content"] is True
    for name in ("input_tokens", "output_tokens", "cost_usd", "llm_calls", "tool_calls"):
        assert found["totals"][name]["delta"] == 0, name
    tool = found["steps"][1]
    assert tool["a"]["arguments"] == tool["b"]["arguments"] == {"city": "Paris"}
    assert tool["a"]["output"] == tool["b"]["output"]


def test_strict_names_the_call_and_the_differing_message(instrumented, store):
    instrumented()
    record("What's the weather in Paris?")
    with pytest.raises(ReplayMismatch) as failed, replay(newest(store), store=store):
        WEATHER.run_agent(
            openai.OpenAI(max_retries=0), "What's the weather in Paris?", system="Be terse."
        )
    assert str(failed.value) == (
        'call 1: messages[0].parts[0].content differs: "You answer weather questions using the '
        'tools." (recorded call 1, openai gpt-4o-mini) vs "Be terse."'
    )


def test_loose_serves_the_nearest_and_reports_every_divergence(instrumented, store):
    instrumented()
    record("What's the weather in Paris?")
    with replay(newest(store), store=store, strict=False) as served:
        answer = WEATHER.run_agent(
            openai.OpenAI(max_retries=0), "What's the weather in Paris?", system="Be terse."
        )
    assert answer.startswith('Here is what I found: {"city": "Paris"')
    assert [d.call for d in served.divergences] == [1, 2]
    assert [d.nearest.index for d in served.divergences] == [1, 2]
    assert all(d.differences[0][0] == "messages[0].parts[0].content" for d in served.divergences)


def test_identical_requests_are_served_in_recorded_order(instrumented, store):
    instrumented()
    ask = [{"role": "user", "content": "Toss a coin."}]
    with ScriptedLLMServer([Reply.text("heads"), Reply.text("tails")]) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="k")
        with WEATHER.agent("coin"):
            for _ in range(2):
                client.chat.completions.create(model="gpt-4o-mini", messages=ask)
    third = "call 3: same request as recorded call 1"
    with pytest.raises(ReplayMismatch, match=third), replay(newest(store), store=store) as served:
        client = openai.OpenAI(max_retries=0)
        got = [
            client.chat.completions.create(model="gpt-4o-mini", messages=ask)
            .choices[0]
            .message.content
            for _ in range(2)
        ]
        assert got == ["heads", "tails"]
        with pytest.raises(openai.BadRequestError, match="already served"):
            client.chat.completions.create(model="gpt-4o-mini", messages=ask)
    assert served.divergences[0].call == 3


def test_a_recording_made_without_streaming_replays_as_a_stream(instrumented, store):
    instrumented()
    record("What's the weather in Paris?")
    recorded = Cassette.from_store(store, newest(store))
    first = recorded.calls[0]
    with replay(recorded):
        stream = openai.OpenAI(max_retries=0).chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": WEATHER.SYSTEM_PROMPT},
                {"role": "user", "content": "What's the weather in Paris?"},
            ],
            tools=WEATHER.TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    assert len(chunks) > 3  # served as SSE chunks, not one body
    calls = [
        c for chunk in chunks if chunk.choices for c in chunk.choices[0].delta.tool_calls or ()
    ]
    assert calls[0].id == first.response["tool_calls"][0]["id"]
    arguments = "".join(c.function.arguments or "" for c in calls)
    assert json.loads(arguments) == {"city": "Paris"}
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        first.response["usage"]["input_tokens"],
        first.response["usage"]["output_tokens"],
    )


def test_a_redacted_api_key_in_a_recorded_request_still_matches(instrumented, store):
    instrumented(redact=lambda text: text.replace(KEY, "[REDACTED]"))
    question = f"My key is {KEY}. What's the weather in Paris?"
    record(question)
    recorded = Cassette.from_store(store, newest(store))
    assert KEY not in json.dumps(recorded.to_dict())
    with replay(recorded) as served:
        client = openai.OpenAI(api_key="sk-other-key-entirely-00000000", max_retries=0)
        WEATHER.run_agent(client, question)
    assert len(served.served) == 2 and served.divergences == []
    differs = r"messages\[1\]\.parts\[0\]\.content differs"
    with pytest.raises(ReplayMismatch, match=differs), replay(recorded):
        WEATHER.run_agent(openai.OpenAI(max_retries=0), "My key is. What's the weather?")


def test_an_exported_cassette_has_no_secrets_and_still_matches(instrumented, store, tmp_path):
    instrumented()
    question = f"Use {KEY} and tell me the weather in Paris."
    record(question)
    path = tmp_path / "run.json"
    Cassette.from_store(store, newest(store)).redacted(secret_redactor()).save(path)
    text = path.read_text()
    assert KEY not in text and "[REDACTED]" in text
    assert json.loads(text)["format"] == "agentel.cassette" and json.loads(text)["version"] == 1
    with replay(str(path)) as served:
        WEATHER.run_agent(openai.OpenAI(max_retries=0), question)
    assert len(served.served) == 2


def test_a_run_recorded_without_content_is_refused(instrumented, store):
    instrumented(capture_content=False)
    record("What's the weather in Paris?")
    with pytest.raises(CassetteError) as refused, replay(newest(store), store=store):
        pytest.fail("a run without content must not be served")
    message = str(refused.value)
    assert "recorded without content capture" in message
    assert "capture_content=True" in message
    assert "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT" in message


def test_a_recorded_tool_call_answer_keeps_its_id(instrumented, store):
    instrumented()
    record(
        "Paris?",
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="call_fixed")),
        Reply.text("ok"),
    )
    with replay(newest(store), store=store):
        response = openai.OpenAI(max_retries=0).chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": WEATHER.SYSTEM_PROMPT},
                {"role": "user", "content": "Paris?"},
            ],
            tools=WEATHER.TOOLS,
        )
        assert response.choices[0].message.tool_calls[0].id == "call_fixed"
        assert response.choices[0].finish_reason == "tool_calls"


def test_after_a_strict_failure_every_request_is_refused(instrumented, store):
    instrumented()
    record("What's the weather in Paris?")
    with pytest.raises(ReplayMismatch), replay(newest(store), store=store) as served:
        client = openai.OpenAI(max_retries=0)
        with pytest.raises(openai.BadRequestError):
            WEATHER.run_agent(client, "What's the weather in Rome?")
        with pytest.raises(openai.BadRequestError, match="stopped at an earlier request"):
            WEATHER.run_agent(client, "What's the weather in Paris?")
    assert served.served == []


def test_a_responses_api_loop_replays_streamed(instrumented, store):
    """Recorded on the Responses API without streaming, replayed with ``stream=True``."""
    instrumented()
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": WEATHER.TOOLS[0]["function"]["parameters"],
        }
    ]

    def loop(client: openai.OpenAI, stream: bool) -> str:
        items: list = [{"role": "user", "content": "What's the weather in Paris?"}]
        with WEATHER.agent("responses-weather"):
            for _ in range(3):
                ask = {"model": "gpt-4.1-mini", "instructions": "Use the tools.", "tools": tools}
                if stream:
                    with client.responses.stream(input=items, **ask) as events:
                        response = events.get_final_response()
                else:
                    response = client.responses.create(input=items, **ask)
                calls = [item for item in response.output if item.type == "function_call"]
                if not calls:
                    return response.output_text
                for call in calls:
                    items.append(call.model_dump(exclude_none=True))
                    result = WEATHER.get_weather(**json.loads(call.arguments))
                    items.append(
                        {
                            "type": "function_call_output",
                            "call_id": call.call_id,
                            "output": json.dumps(result),
                        }
                    )
        return ""

    with ScriptedLLMServer() as server:
        answer = loop(openai.OpenAI(base_url=server.openai_base_url, api_key=KEY), stream=False)
    recorded = newest(store)
    with replay(recorded, store=store) as served:
        assert loop(openai.OpenAI(max_retries=0), stream=True) == answer
    assert len(served.served) == 2 and served.divergences == []
    found = store.diff(recorded, newest(store))
    assert found["same"] is True and found["totals"]["input_tokens"]["delta"] == 0
