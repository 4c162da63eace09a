"""AnthropicInstrumentor: the real anthropic SDK over real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

MESSAGES = [{"role": "user", "content": "Say hi"}]
MODEL = "claude-haiku-4-5"


@pytest.fixture
def exporter_a(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> Iterator[InMemorySpanExporter]:
    provider, exporter = local_provider
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


def client(srv: ScriptedLLMServer, is_async: bool = False) -> Any:
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=srv.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False)


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def create(srv: ScriptedLLMServer, is_async: bool, **kwargs: Any) -> Any:
    kwargs = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES, **kwargs}
    if is_async:
        return asyncio.run(client(srv, True).messages.create(**kwargs))
    return client(srv).messages.create(**kwargs)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_create_usage_maps_cache_tokens_into_input(
    exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=50, cached_tokens=600, cache_write_tokens=300)
    srv.enqueue(Reply.text("hello", usage=usage))
    message = create(srv, is_async, stop_sequences=["END"])
    # on the wire Anthropic reports only the uncached input
    assert message.usage.input_tokens == 100
    assert message.usage.cache_read_input_tokens == 600
    assert message.usage.cache_creation_input_tokens == 300
    span = only(exporter_a)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000  # 100 + 600 + 300
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 600
    assert a[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 300
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert a[A.GEN_AI_RESPONSE_ID] == message.id
    assert a[A.GEN_AI_RESPONSE_MODEL] == MODEL
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[A.SERVER_ADDRESS] == "127.0.0.1"
    assert a[A.SERVER_PORT] == srv.port
    assert a[A.GEN_AI_USAGE_COST] > 0
    assert A.GEN_AI_REQUEST_STREAM not in a


def test_thinking_counts_as_reasoning_from_the_api(
    exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    srv.enqueue(
        Reply.text("answer", thinking="let me think", usage=Usage(10, 40, reasoning_tokens=25)),
        Reply.text("answer", thinking="no count reported", usage=Usage(10, 40)),
    )
    first = create(srv, False, thinking={"type": "enabled", "budget_tokens": 1024})
    create(srv, False)
    assert first.usage.output_tokens_details.thinking_tokens == 25
    with_count, without = exporter_a.get_finished_spans()
    assert with_count.attributes[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 25
    assert with_count.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 40
    # the API gave no thinking count: nothing is estimated from the thinking text
    assert A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in without.attributes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_tool_use_blocks(
    exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}, id="toolu_a"),
            ToolCall("get_time", {"tz": "CET"}, id="toolu_b"),
            text="Let me check.",
        )
    )
    create(srv, is_async, tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
    span = only(exporter_a)
    assert span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert [dict(e.attributes) for e in span.events] == [
        {A.GEN_AI_TOOL_NAME: n, A.GEN_AI_TOOL_CALL_ID: i, A.GEN_AI_TOOL_TYPE: "function"}
        for n, i in (("get_weather", "toolu_a"), ("get_time", "toolu_b"))
    ]
    assert "Paris" not in str([dict(e.attributes) for e in span.events])


def test_with_raw_response(exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.text("raw", usage=Usage(5, 2)))
    raw = client(srv).messages.with_raw_response.create(
        model=MODEL, max_tokens=8, messages=MESSAGES
    )
    message = raw.parse()
    span = only(exporter_a)
    assert span.attributes[A.GEN_AI_RESPONSE_ID] == message.id
    assert span.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 2


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_http_error(
    exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.error(429, "slow down"))
    with pytest.raises(anthropic.RateLimitError):
        create(srv, is_async)
    span = only(exporter_a)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "anthropic.RateLimitError"


def test_uninstrument_restores_and_twice_is_noop(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], srv: ScriptedLLMServer
) -> None:
    from anthropic.resources.messages import AsyncMessages, Messages

    provider, exporter = local_provider
    originals = {
        (cls, name): cls.__dict__[name]
        for cls in (Messages, AsyncMessages)
        for name in ("create", "stream", "parse")
    }
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        wrapped = {key: key[0].__dict__[key[1]] for key in originals}
        assert all(wrapped[key] is not originals[key] for key in originals)
        AnthropicInstrumentor().instrument(tracer_provider=provider)
        assert {key: key[0].__dict__[key[1]] for key in originals} == wrapped
        create(srv, False)
        assert len(exporter.get_finished_spans()) == 1
    finally:
        instrumentor.uninstrument()
    assert all(key[0].__dict__[key[1]] is originals[key] for key in originals)
    create(srv, False)
    assert len(exporter.get_finished_spans()) == 1


def test_suppressed_instrumentation(
    exporter_a: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    with suppress_instrumentation():
        create(srv, False)
        create(srv, True)
        with client(srv).messages.stream(model=MODEL, max_tokens=8, messages=MESSAGES) as stream:
            stream.until_done()
        for _ in create(srv, False, stream=True):
            pass
    assert exporter_a.get_finished_spans() == ()


def test_registered_for_zero_code_and_configure() -> None:
    from importlib.metadata import entry_points

    from agentel.sdk._configure import INSTRUMENTORS

    (ep,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agentel_anthropic"
    ]
    assert ep.load() is AnthropicInstrumentor
    assert INSTRUMENTORS["anthropic"] == "agentel.instrumentation.anthropic:AnthropicInstrumentor"
    assert tuple(AnthropicInstrumentor().instrumentation_dependencies()) == ("anthropic >= 0.40",)
