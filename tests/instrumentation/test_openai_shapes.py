"""OpenAIInstrumentor beyond plain chat: parse, Responses API, embeddings, raw responses,
and the opt-in ``stream_usage``. Real openai SDK over real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.semconv.attributes import AGENTEL_STREAM_END
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

MESSAGES = [{"role": "user", "content": "Say hi"}]


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def clients(srv: Any) -> tuple[Any, Any]:
    kwargs = {"base_url": srv.openai_base_url, "api_key": "test", "max_retries": 0}
    return openai.OpenAI(**kwargs), openai.AsyncOpenAI(**kwargs)


class Answer(pydantic.BaseModel):
    answer: str


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_chat_parse(openai_exporter: InMemorySpanExporter, server: Any, is_async: bool) -> None:
    server.enqueue(Reply.text('{"answer": "42"}', usage=Usage(input_tokens=9, output_tokens=4)))
    sync, aio = clients(server)
    kwargs = {"model": "gpt-4o-mini", "messages": MESSAGES, "response_format": Answer}
    if is_async:
        result = asyncio.run(aio.chat.completions.parse(**kwargs))
    else:
        result = sync.chat.completions.parse(**kwargs)
    assert result.choices[0].message.parsed == Answer(answer="42")
    span = only(openai_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes[A.GEN_AI_OUTPUT_TYPE] == "json"
    assert span.attributes[A.GEN_AI_RESPONSE_ID] == result.id
    assert span.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_responses_create(
    openai_exporter: InMemorySpanExporter, server: Any, is_async: bool
) -> None:
    usage = Usage(input_tokens=120, output_tokens=30, cached_tokens=100, reasoning_tokens=20)
    server.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Oslo"}, id="call_7"), usage=usage)
    )
    sync, aio = clients(server)
    kwargs = {
        "model": "gpt-4o-mini",
        "input": "Weather in Oslo?",
        "temperature": 0.3,
        "top_p": 0.8,
        "max_output_tokens": 99,
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    }
    if is_async:
        response = asyncio.run(aio.responses.create(**kwargs))
    else:
        response = sync.responses.create(**kwargs)
    span = only(openai_exporter)
    a = span.attributes
    assert span.name == "chat gpt-4o-mini"
    assert a[A.GEN_AI_RESPONSE_ID] == response.id
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[A.GEN_AI_REQUEST_TOP_P] == 0.8
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 99
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 20
    assert a[A.SERVER_PORT] == server.port
    assert a[A.GEN_AI_USAGE_COST] > 0
    (event,) = span.events
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_7"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_responses_streaming(
    openai_exporter: InMemorySpanExporter, server: Any, is_async: bool
) -> None:
    server.enqueue(
        Reply.text("streamed answer", usage=Usage(input_tokens=11, output_tokens=3)),
        Reply.text("helper answer", usage=Usage(input_tokens=12, output_tokens=2)),
    )
    sync, aio = clients(server)
    kwargs = {"model": "gpt-4o-mini", "input": "hi"}
    if is_async:

        async def main() -> Any:
            async for _ in await aio.responses.create(stream=True, **kwargs):
                pass
            async with aio.responses.stream(**kwargs) as stream:
                return await stream.get_final_response()

        final = asyncio.run(main())
    else:
        for _ in sync.responses.create(stream=True, **kwargs):
            pass
        with sync.responses.stream(**kwargs) as stream:
            final = stream.get_final_response()
    created, helper = openai_exporter.get_finished_spans()
    for span, tokens in ((created, (11, 3)), (helper, (12, 2))):
        a = span.attributes
        assert a[A.GEN_AI_REQUEST_STREAM] is True
        assert a[AGENTEL_STREAM_END] == "completed"
        assert a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
        assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == tokens
        assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert helper.attributes[A.GEN_AI_RESPONSE_ID] == final.id


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_embeddings(openai_exporter: InMemorySpanExporter, server: Any, is_async: bool) -> None:
    sync, aio = clients(server)
    kwargs = {"model": "text-embedding-3-small", "input": ["abcd", "efgh1234"], "dimensions": 4}
    if is_async:
        result = asyncio.run(aio.embeddings.create(**kwargs))
    else:
        result = sync.embeddings.create(**kwargs)
    span = only(openai_exporter)
    assert span.name == "embeddings text-embedding-3-small"
    a = span.attributes
    assert a[A.GEN_AI_OPERATION_NAME] == "embeddings"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.prompt_tokens == 3
    assert a[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    assert A.GEN_AI_USAGE_OUTPUT_TOKENS not in a


def test_with_raw_response_responses_and_embeddings(
    openai_exporter: InMemorySpanExporter, server: Any
) -> None:
    sync, _ = clients(server)
    raw = sync.responses.with_raw_response.create(model="gpt-4o-mini", input="hi")
    raw_embed = sync.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    response = raw.parse()
    assert raw_embed.parse().data
    chat, embed = openai_exporter.get_finished_spans()
    assert chat.attributes[A.GEN_AI_RESPONSE_ID] == response.id
    assert embed.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 1


def test_streams_are_not_altered_by_default(
    openai_exporter: InMemorySpanExporter, server: Any
) -> None:
    server.enqueue(Reply.text("plain", usage=Usage(input_tokens=5, output_tokens=1)))
    sync, _ = clients(server)
    chunks = list(sync.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert "stream_options" not in server.requests[-1].body
    assert all(chunk.choices for chunk in chunks)  # no usage-only chunk was asked for
    a = only(openai_exporter).attributes
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in a
    assert a[AGENTEL_STREAM_END] == "completed"


@pytest.fixture
def stream_usage_exporter(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> Iterator[InMemorySpanExporter]:
    provider, exporter = local_provider
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, stream_usage=True)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


def test_stream_usage_opt_in(stream_usage_exporter: InMemorySpanExporter) -> None:
    with ScriptedLLMServer() as srv:
        srv.enqueue(
            Reply.text("counted", usage=Usage(input_tokens=7, output_tokens=2)),
            Reply.text("theirs", usage=Usage(input_tokens=7, output_tokens=2)),
        )
        sync, _ = clients(srv)
        list(sync.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
        assert srv.requests[-1].body["stream_options"] == {"include_usage": True}
        list(
            sync.chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": False},
            )
        )
        assert srv.requests[-1].body["stream_options"] == {"include_usage": False}
    counted, theirs = stream_usage_exporter.get_finished_spans()
    assert counted.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert A.GEN_AI_USAGE_OUTPUT_TOKENS not in theirs.attributes
