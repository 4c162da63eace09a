"""agentel.testing.ScriptedLLMServer against the real openai and anthropic SDKs over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from agentel.testing import (
    NO_REPLY_LEFT,
    Reply,
    ScriptedLLMServer,
    ToolCall,
    Usage,
    arguments_from_schema,
    embedding_vector,
    estimate_usage,
    extract_argument,
)

WEATHER_CHAT_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "verbose": {"type": "boolean"},
            },
            "required": ["city", "days", "unit"],
        },
    },
}
WEATHER_ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": WEATHER_CHAT_TOOL["function"]["parameters"],
}
WEATHER_RESPONSES_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": WEATHER_CHAT_TOOL["function"]["parameters"],
    "strict": False,
}
USER = {"role": "user", "content": "What is the weather in Paris today?"}
FULL_USAGE = Usage(
    input_tokens=100, output_tokens=20, cached_tokens=30, cache_write_tokens=10, reasoning_tokens=5
)


@pytest.fixture
def srv() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def oai(srv: ScriptedLLMServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def ant(srv: ScriptedLLMServer) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test", max_retries=0)
    yield client
    client.close()


# --------------------------------------------------------------------------- OpenAI chat


def test_chat_text_usage_mapping(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    srv.enqueue(Reply.text("Hello there", usage=FULL_USAGE, model="gpt-scripted"))
    resp = oai.chat.completions.create(model="gpt-4o", messages=[USER])
    assert resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-scripted"
    assert resp.system_fingerprint and resp.created > 0
    choice = resp.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Hello there", "stop")
    assert choice.message.role == "assistant" and choice.message.tool_calls is None
    u = resp.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (100, 20, 120)
    assert u.prompt_tokens_details.cached_tokens == 30
    assert u.prompt_tokens_details.cache_write_tokens == 10
    assert u.completion_tokens_details.reasoning_tokens == 5


def test_chat_tool_calls_and_n(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}, id="call_fixed"),
            ToolCall("get_time", {"tz": "Europe/Paris"}),
            text="Let me check.",
        )
    )
    resp = oai.chat.completions.create(model="gpt-4o", messages=[USER], n=2)
    assert len(resp.choices) == 2
    msg = resp.choices[1].message
    assert resp.choices[1].finish_reason == "tool_calls"
    assert msg.content == "Let me check."
    first, second = msg.tool_calls
    assert (first.id, first.function.name) == ("call_fixed", "get_weather")
    assert json.loads(first.function.arguments) == {"city": "Paris"}
    assert second.id.startswith("call_") and len(second.id) == 29
    assert json.loads(second.function.arguments) == {"tz": "Europe/Paris"}


def test_chat_stream_tool_calls_with_include_usage(
    srv: ScriptedLLMServer, oai: openai.OpenAI
) -> None:
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris", "note": "a long argument value here"}),
            text="Checking the weather now",
            usage=FULL_USAGE,
        )
    )
    stream = oai.chat.completions.create(
        model="gpt-4o",
        messages=[USER],
        tools=[WEATHER_CHAT_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(content) >= 3 and "".join(content) == "Checking the weather now"
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert deltas[0].id.startswith("call_") and deltas[0].function.name == "get_weather"
    assert len(deltas) > 2
    args = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(args) == {"city": "Paris", "note": "a long argument value here"}
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "tool_calls" and finishes.count(None) == len(finishes) - 1
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens == 100
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_usage_and_stream_helper(
    srv: ScriptedLLMServer, oai: openai.OpenAI
) -> None:
    srv.enqueue(Reply.text("one two three"))
    chunks = list(oai.chat.completions.create(model="m", messages=[USER], stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Rome"})))
    with oai.chat.completions.stream(
        model="m", messages=[USER], tools=[WEATHER_CHAT_TOOL]
    ) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.done" in events
    call = final.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Rome"},
    )


def test_chat_async_create_and_stream(srv: ScriptedLLMServer) -> None:
    async def main() -> tuple[str | None, str]:
        client = openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
        try:
            srv.enqueue(Reply.text("async hello"), Reply.text("streamed async hello"))
            resp = await client.chat.completions.create(model="m", messages=[USER])
            stream = await client.chat.completions.create(model="m", messages=[USER], stream=True)
            parts = [c.choices[0].delta.content or "" async for c in stream]
            return resp.choices[0].message.content, "".join(parts)
        finally:
            await client.close()

    assert asyncio.run(main()) == ("async hello", "streamed async hello")


def test_estimated_usage_is_deterministic(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": "Be brief."}, USER]
    resp = oai.chat.completions.create(model="m", messages=messages, tools=[WEATHER_CHAT_TOOL])
    call = resp.choices[0].message.tool_calls[0]
    body = srv.requests[-1].body
    expected = estimate_usage(
        "chat", body, tool_calls=[ToolCall(call.function.name, call.function.arguments)]
    )
    tools_chars = len(json.dumps(body["tools"], separators=(",", ":")))
    chars = len("Be brief.") + len(USER["content"]) + tools_chars
    assert expected.input_tokens == -(-chars // 4) + 4 * 2 + 3
    assert resp.usage.prompt_tokens == expected.input_tokens
    assert resp.usage.completion_tokens == expected.output_tokens
    again = oai.chat.completions.create(model="m", messages=messages, tools=[WEATHER_CHAT_TOOL])
    assert again.usage == resp.usage


# --------------------------------------------------------------------------- OpenAI responses


def test_responses_create_usage_mapping(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    srv.enqueue(Reply.text("Bonjour", usage=FULL_USAGE, thinking="short plan"))
    resp = oai.responses.create(model="gpt-4.1", input="Say hi", instructions="Be nice")
    assert resp.id.startswith("resp_") and resp.status == "completed"
    assert resp.output_text == "Bonjour"
    assert [item.type for item in resp.output] == ["reasoning", "message"]
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.total_tokens) == (100, 20, 120)
    assert u.input_tokens_details.cached_tokens == 30
    assert u.input_tokens_details.cache_write_tokens == 10
    assert u.output_tokens_details.reasoning_tokens == 5


def test_responses_stream_raw_and_helper(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Oslo"}), text="Looking it up"))
    events = list(
        oai.responses.create(
            model="gpt-4.1", input="Weather in Oslo?", tools=[WEATHER_RESPONSES_TOOL], stream=True
        )
    )
    types = [e.type for e in events]
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    for kind in (
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ):
        assert kind in types
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    completed = events[-1].response
    assert completed.usage.output_tokens > 0
    call = completed.output[1]
    assert call.type == "function_call" and call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "Oslo"}

    srv.enqueue(Reply.text("streamed via helper", usage=FULL_USAGE))
    with oai.responses.stream(model="gpt-4.1", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "streamed via helper"
    assert final.usage.input_tokens_details.cached_tokens == 30


def test_responses_async_stream(srv: ScriptedLLMServer) -> None:
    async def main() -> str:
        client = openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
        try:
            srv.enqueue(Reply.text("async responses"))
            async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
                async for _ in stream:
                    pass
                return (await stream.get_final_response()).output_text
        finally:
            await client.close()

    assert asyncio.run(main()) == "async responses"


# --------------------------------------------------------------------------- embeddings


def test_embeddings_base64_default_and_float(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    resp = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta gamma"])
    # openai>=1.x asks for base64 when no encoding_format is given, and decodes it itself
    assert srv.requests[-1].body["encoding_format"] == "base64"
    assert [d.embedding for d in resp.data] == [
        embedding_vector("alpha"),
        embedding_vector("beta gamma"),
    ]
    assert (resp.usage.prompt_tokens, resp.usage.total_tokens) == (5, 5)
    resp = oai.embeddings.create(
        model="text-embedding-3-small", input="alpha", encoding_format="float", dimensions=4
    )
    assert resp.data[0].embedding == embedding_vector("alpha", 4)
    assert abs(sum(v * v for v in resp.data[0].embedding) - 1.0) < 1e-5


def test_embeddings_leave_text_replies_for_chat(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    srv.enqueue(Reply.text("for chat"))
    oai.embeddings.create(model="e", input="x")
    assert srv.pending == 1
    srv.reset()
    srv.enqueue(Reply.error(400, "bad input"))
    with pytest.raises(openai.BadRequestError, match="bad input"):
        oai.embeddings.create(model="e", input="x")


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_create_thinking_tool_use_usage(
    srv: ScriptedLLMServer, ant: anthropic.Anthropic
) -> None:
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            text="Let me check.",
            thinking="The user wants weather.",
            usage=FULL_USAGE,
        )
    )
    msg = ant.messages.create(
        model="claude-test", max_tokens=100, messages=[USER], tools=[WEATHER_ANTHROPIC_TOOL]
    )
    assert msg.id.startswith("msg_") and msg.model == "claude-test"
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = msg.content
    assert thinking.thinking == "The user wants weather." and thinking.signature
    assert text.text == "Let me check."
    assert tool.id.startswith("toolu_") and tool.input == {"city": "Paris"}
    assert msg.stop_reason == "tool_use"
    u = msg.usage
    assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens) == (
        60,
        30,
        10,
    )
    assert u.output_tokens == 20


def test_anthropic_raw_stream(srv: ScriptedLLMServer, ant: anthropic.Anthropic) -> None:
    srv.enqueue(Reply.text("alpha beta gamma", thinking="hmm ok"))
    events = list(ant.messages.create(model="c", max_tokens=10, messages=[USER], stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert {"thinking_delta", "signature_delta", "text_delta"} <= set(deltas)
    assert deltas.count("text_delta") == 3
    assert events[-2].delta.stop_reason == "end_turn"
    # estimated: ceil(len("alpha beta gamma" + "hmm ok") / 4) + 1
    assert events[-2].usage.output_tokens == 7


def test_anthropic_stream_helper(srv: ScriptedLLMServer, ant: anthropic.Anthropic) -> None:
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris", "days": 3, "unit": "celsius"}),
            text="Checking now",
            thinking="need the tool",
            usage=FULL_USAGE,
        )
    )
    with ant.messages.stream(
        model="c", max_tokens=10, messages=[USER], tools=[WEATHER_ANTHROPIC_TOOL]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Checking now"
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "need the tool" and final.content[0].signature
    assert final.content[2].input == {"city": "Paris", "days": 3, "unit": "celsius"}
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (60, 20)
    assert final.usage.cache_read_input_tokens == 30


def test_anthropic_async_stream(srv: ScriptedLLMServer) -> None:
    async def main() -> tuple[str, str]:
        client = anthropic.AsyncAnthropic(
            base_url=srv.anthropic_base_url, api_key="test", max_retries=0
        )
        try:
            srv.enqueue(Reply.text("async claude", chunk_delay=0.01))
            async with client.messages.stream(model="c", max_tokens=10, messages=[USER]) as s:
                text = "".join([t async for t in s.text_stream])
                final = await s.get_final_message()
            return text, final.content[0].text
        finally:
            await client.close()

    assert asyncio.run(main()) == ("async claude", "async claude")


# --------------------------------------------------------------------------- failures


def test_http_errors_are_provider_shaped(
    srv: ScriptedLLMServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    srv.enqueue(Reply.error(500, "boom"), Reply.error(500, "kaboom"), Reply.error(429, "slow"))
    with pytest.raises(openai.InternalServerError) as oerr:
        oai.chat.completions.create(model="m", messages=[USER], stream=True)
    assert oerr.value.status_code == 500
    assert oerr.value.body == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(anthropic.InternalServerError) as aerr:
        ant.messages.create(model="c", max_tokens=10, messages=[USER])
    assert aerr.value.body == {"type": "error", "error": {"type": "api_error", "message": "kaboom"}}
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="m", input="hi")


def test_no_scripted_reply_left() -> None:
    with ScriptedLLMServer(auto=False) as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="test")  # retries on
        with pytest.raises(openai.InternalServerError, match="no scripted reply left"):
            client.chat.completions.create(model="m", messages=[USER])
        assert len(server.requests) == 1  # x-should-retry: false
        client.close()
    assert "no scripted reply left" in NO_REPLY_LEFT


def test_client_timeout_does_not_break_server(
    srv: ScriptedLLMServer, oai: openai.OpenAI, capfd: pytest.CaptureFixture[str]
) -> None:
    srv.enqueue(Reply.text("too late", delay=1.0), Reply.text("on time"))
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.2).chat.completions.create(model="m", messages=[USER])
    assert time.monotonic() - start < 0.9
    resp = oai.chat.completions.create(model="m", messages=[USER])
    assert resp.choices[0].message.content == "on time"
    srv.stop()  # wakes the sleeping handler at once
    assert time.monotonic() - start < 0.9
    assert capfd.readouterr().err == ""


def test_cut_after_chunks_raises_mid_stream(
    srv: ScriptedLLMServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    srv.enqueue(Reply.text("one two three four five", cut_after_chunks=3))
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(model="m", messages=[USER], stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one two "
    srv.enqueue(Reply.text("one two three four five", cut_after_chunks=5))
    seen: list[str] = []
    # anthropic 2.x surfaces the transport error unwrapped (httpx2.RemoteProtocolError)
    with (
        pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)),
        ant.messages.stream(model="c", max_tokens=10, messages=[USER]) as stream,
    ):
        seen.extend(stream.text_stream)
    assert seen == ["one ", "two "]  # message_start, ping, block_start, 2 deltas
    srv.enqueue(Reply(content="not streamed", cut_after_chunks=0))
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=[USER])


# --------------------------------------------------------------------------- AUTO mode


def test_auto_tool_loop_openai_chat(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    messages: list[dict] = [USER]
    first = oai.chat.completions.create(model="m", messages=messages, tools=[WEATHER_CHAT_TOOL])
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    args = json.loads(call.function.arguments)
    assert args == {"city": "Paris", "days": 1, "unit": "celsius"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21C"},
    ]
    second = oai.chat.completions.create(model="m", messages=messages, tools=[WEATHER_CHAT_TOOL])
    assert second.choices[0].message.content == "Here is what I found: Sunny, 21C"
    plain = oai.chat.completions.create(model="m", messages=[USER])
    assert plain.choices[0].message.content == "You said: " + USER["content"]


def test_auto_tool_loop_anthropic(srv: ScriptedLLMServer, ant: anthropic.Anthropic) -> None:
    messages: list[dict] = [USER]
    first = ant.messages.create(
        model="c", max_tokens=100, messages=messages, tools=[WEATHER_ANTHROPIC_TOOL]
    )
    tool_use = first.content[-1]
    assert first.stop_reason == "tool_use" and tool_use.input["city"] == "Paris"
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "Rainy"}],
        },
    ]
    second = ant.messages.create(
        model="c", max_tokens=100, messages=messages, tools=[WEATHER_ANTHROPIC_TOOL]
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "Here is what I found: Rainy"


def test_auto_tool_loop_responses(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    first = oai.responses.create(
        model="m", input="Any news from Berlin?", tools=[WEATHER_RESPONSES_TOOL]
    )
    call = first.output[0]
    assert call.type == "function_call" and json.loads(call.arguments)["city"] == "Berlin"
    second = oai.responses.create(
        model="m",
        input=[
            {"role": "user", "content": "Any news from Berlin?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Cloudy"},
        ],
        tools=[WEATHER_RESPONSES_TOOL],
    )
    assert second.output_text == "Here is what I found: Cloudy"


def test_auto_helpers() -> None:
    assert extract_argument("What's the weather in Paris?") == "Paris"
    assert extract_argument("Paris. Then I fly to New York!") == "York"
    assert extract_argument("hello world") == "hello world"
    assert extract_argument("x" * 60) == "x" * 40
    schema = {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "number"}}}
    assert arguments_from_schema(schema, "find Rome") == {"q": "Rome", "n": 1}


# --------------------------------------------------------------------------- bookkeeping


def test_recorded_requests_reset_and_models(srv: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    oai.chat.completions.create(model="gpt-4o", messages=[USER], temperature=0.5)
    rec = srv.requests[-1]
    assert (rec.method, rec.path) == ("POST", "/v1/chat/completions")
    assert rec.headers["authorization"] == "Bearer test"
    assert rec.body["model"] == "gpt-4o" and rec.body["temperature"] == 0.5
    assert [m.id for m in oai.models.list()] == ["scripted-model"]
    srv.enqueue(Reply.text("x"))
    srv.reset()
    assert srv.requests == [] and srv.pending == 0


def test_unknown_route_is_404(srv: ScriptedLLMServer) -> None:
    req = urllib.request.Request(srv.url + "/v1/nope", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 404
    assert "no route" in json.loads(err.value.read())["error"]["message"]


def test_main_module_serves_until_interrupted() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(root / d) for d in ("src", "semconv"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentel.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/v1/models") as resp:
            assert json.loads(resp.read())["object"] == "list"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
