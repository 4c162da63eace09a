"""Streams end exactly once on every exit path, for both SDKs, sync and async.

Real SDKs over real HTTP against the scripted server; each path checks the one span, how it
ended (``agentel.stream.end``), its status, time to first chunk and the usage read so far.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.semconv.attributes import AGENTEL_STREAM_END
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

MESSAGES = [{"role": "user", "content": "Say hi"}]
USAGE = Usage(input_tokens=40, output_tokens=12, cached_tokens=8)
PATHS = ["exhausted", "break_then_close", "context_exit", "error_mid_stream", "abandoned"]
EXPECTED_END = {
    "exhausted": "completed",
    "break_then_close": "closed",
    "context_exit": "closed",
    "error_mid_stream": "error",
    "abandoned": "abandoned",
}


@pytest.fixture
def traced(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> Iterator[InMemorySpanExporter]:
    provider, exporter = local_provider
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()


def openai_stream(srv: ScriptedLLMServer, is_async: bool) -> Callable[[], Any]:
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    client = cls(base_url=srv.openai_base_url, api_key="test", max_retries=0)
    return lambda: client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )


def anthropic_stream(srv: ScriptedLLMServer, is_async: bool) -> Callable[[], Any]:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    client = cls(
        base_url=srv.anthropic_base_url, api_key="test", max_retries=0, open_telemetry=False
    )
    return lambda: client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES, stream=True
    )


def run_sync(make: Callable[[], Any], path: str) -> None:
    if path == "exhausted":
        assert len(list(make())) > 3
    elif path == "break_then_close":
        stream = make()
        for _ in stream:
            break
        stream.close()
        stream.close()  # a second close is harmless and ends nothing twice
    elif path == "context_exit":
        with make() as stream:
            next(iter(stream))
    elif path == "error_mid_stream":
        with pytest.raises((openai.APIError, anthropic.APIError, httpx2.HTTPError)):
            for _ in make():
                pass
    else:
        stream = make()
        next(stream)
        del stream
        gc.collect()


async def run_async(make: Callable[[], Any], path: str) -> None:
    if path == "exhausted":
        assert len([chunk async for chunk in await make()]) > 3
    elif path == "break_then_close":
        stream = await make()
        async for _ in stream:
            break
        await stream.close()
        await stream.close()
    elif path == "context_exit":
        async with await make() as stream:
            await stream.__anext__()
    elif path == "error_mid_stream":
        with pytest.raises((openai.APIError, anthropic.APIError, httpx2.HTTPError)):
            async for _ in await make():
                pass
    else:
        stream = await make()
        await stream.__anext__()
        await stream.response.aclose()  # the SDK's own resources, released by the app
        del stream
        gc.collect()


def check_span(span: ReadableSpan, path: str) -> None:
    attrs = span.attributes
    assert attrs[AGENTEL_STREAM_END] == EXPECTED_END[path]
    assert attrs[A.GEN_AI_REQUEST_STREAM] is True
    ttft = attrs.get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    if path in ("exhausted", "error_mid_stream"):
        assert 0 < ttft < (span.end_time - span.start_time) / 1e9
    else:  # left after the opening chunk, before any output: no first token to time
        assert ttft is None
    if path == "error_mid_stream":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs[A.ERROR_TYPE]
    else:
        assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_stream_ends_once(
    traced: InMemorySpanExporter, sdk: str, path: str, is_async: bool
) -> None:
    with ScriptedLLMServer() as srv:
        cut = 5 if path == "error_mid_stream" else None
        srv.enqueue(Reply.text("one two three four five six", usage=USAGE, cut_after_chunks=cut))
        make = (openai_stream if sdk == "openai" else anthropic_stream)(srv, is_async)
        if is_async:
            asyncio.run(run_async(make, path))
        else:
            run_sync(make, path)
        gc.collect()
    (span,) = traced.get_finished_spans()
    check_span(span, path)
    attrs = span.attributes
    assert attrs[A.GEN_AI_RESPONSE_ID]
    if sdk == "anthropic":
        # message_start already told the input usage (uncached + cached)
        assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == 40
        assert attrs[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 8
    if path == "exhausted":
        assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == 40
        assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 12
        assert attrs[A.GEN_AI_USAGE_COST] > 0
        assert attrs[A.AGENTEL_OUTPUT_TOKENS_PER_SECOND] > 0
    elif sdk == "openai":
        assert A.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs  # usage comes only in the last chunk


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_tool_calls(traced: InMemorySpanExporter, is_async: bool) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(
            Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="call_1")),
            Reply.tool_calls(ToolCall("get_time", {"tz": "CET"}, id="toolu_1")),
        )
        if is_async:

            async def main() -> None:
                async for _ in await openai_stream(srv, True)():
                    pass
                async for _ in await anthropic_stream(srv, True)():
                    pass

            asyncio.run(main())
        else:
            for _ in openai_stream(srv, False)():
                pass
            for _ in anthropic_stream(srv, False)():
                pass
    chat, message = traced.get_finished_spans()
    for span, name, call_id, reason in (
        (chat, "get_weather", "call_1", "tool_calls"),
        (message, "get_time", "toolu_1", "tool_use"),
    ):
        assert span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == (reason,)
        (event,) = span.events
        assert dict(event.attributes) == {
            A.GEN_AI_TOOL_NAME: name,
            A.GEN_AI_TOOL_CALL_ID: call_id,
            A.GEN_AI_TOOL_TYPE: "function",
        }


def test_stream_proxy_keeps_the_sdk_surface(traced: InMemorySpanExporter) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.text("hi there"))
        stream = openai_stream(srv, False)()
        assert isinstance(stream, openai.Stream)
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        with stream as same:
            assert same is stream
            chunks = list(same)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hi there"
    (span,) = traced.get_finished_spans()
    assert span.attributes[AGENTEL_STREAM_END] == "completed"


def test_chat_stream_helper_one_span_closed_early(traced: InMemorySpanExporter) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.text("a b c d e f g"), Reply.text("whole"))
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            for event in stream:
                if event.type == "content.delta":
                    break
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            final = stream.get_final_completion()
    assert final.choices[0].message.content == "whole"
    early, whole = traced.get_finished_spans()
    assert early.attributes[AGENTEL_STREAM_END] == "closed"
    assert whole.attributes[AGENTEL_STREAM_END] == "completed"
    assert whole.attributes[A.GEN_AI_RESPONSE_ID] == final.id


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_anthropic_stream_helper_one_span(traced: InMemorySpanExporter, is_async: bool) -> None:
    usage = Usage(input_tokens=50, output_tokens=30, cached_tokens=10, reasoning_tokens=9)
    with ScriptedLLMServer() as srv:
        srv.enqueue(
            Reply.tool_calls(
                ToolCall("lookup", {"q": "x"}, id="toolu_9"), thinking="hmm", usage=usage
            ),
            Reply.text("early exit"),
        )
        kwargs: dict[str, Any] = {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": MESSAGES,
        }
        if is_async:
            client: Any = anthropic.AsyncAnthropic(
                base_url=srv.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False
            )

            async def main() -> Any:
                async with client.messages.stream(**kwargs) as stream:
                    message = await stream.get_final_message()
                async with client.messages.stream(**kwargs) as stream:
                    async for _ in stream:
                        break
                return message

            message = asyncio.run(main())
        else:
            client = anthropic.Anthropic(
                base_url=srv.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False
            )
            with client.messages.stream(**kwargs) as stream:
                message = stream.get_final_message()
            with client.messages.stream(**kwargs) as stream:
                for _ in stream:
                    break
        assert len(srv.requests) == 2
    full, early = traced.get_finished_spans()
    attrs = full.attributes
    assert attrs[A.GEN_AI_RESPONSE_ID] == message.id
    assert attrs[AGENTEL_STREAM_END] == "completed"
    assert attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert attrs[A.GEN_AI_USAGE_INPUT_TOKENS] == 50
    assert attrs[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10
    assert attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert attrs[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 9
    assert [e.attributes[A.GEN_AI_TOOL_CALL_ID] for e in full.events] == ["toolu_9"]
    assert early.attributes[AGENTEL_STREAM_END] == "closed"


def test_anthropic_stream_helper_http_error(traced: InMemorySpanExporter) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.error(529, "overloaded"))
        client = anthropic.Anthropic(
            base_url=srv.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False
        )
        with (
            pytest.raises(anthropic.APIStatusError),
            client.messages.stream(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES),
        ):
            pass
    (span,) = traced.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "anthropic.OverloadedError"


DELAY = 0.25  # the scripted server holds the first output delta back this long


def _first_token_streams(srv: ScriptedLLMServer) -> dict[str, Callable[[], Any]]:
    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)
    claude = anthropic.Anthropic(
        base_url=srv.anthropic_base_url, api_key="test", max_retries=0, open_telemetry=False
    )
    return {
        "chat": lambda: client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        ),
        "responses": lambda: client.responses.create(
            model="gpt-4o-mini", input="Say hi", stream=True
        ),
        "anthropic": lambda: claude.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=MESSAGES, stream=True
        ),
    }


@pytest.mark.parametrize("api", ["chat", "responses", "anthropic"])
@pytest.mark.parametrize("kind", ["text", "tool_call"])
def test_time_to_first_chunk_is_at_the_first_output_delta(
    traced: InMemorySpanExporter, api: str, kind: str
) -> None:
    """The opening events (response.created, message_start, a role-only chunk) arrive at once;
    the first text or tool-call argument delta comes DELAY later. TTFT is measured there."""
    with ScriptedLLMServer() as srv:
        if kind == "text":
            reply = Reply.text("Hello there", usage=USAGE, first_delta_delay=DELAY)
        else:
            call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")
            reply = Reply.tool_calls(call, usage=USAGE, first_delta_delay=DELAY)
        srv.enqueue(reply)
        events = list(_first_token_streams(srv)[api]())
    assert len(events) > 2
    (span,) = traced.get_finished_spans()
    ttft = span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    duration = (span.end_time - span.start_time) / 1e9
    assert DELAY <= ttft <= duration
