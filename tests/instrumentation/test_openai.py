"""OpenAIInstrumentor: the real openai SDK over real HTTP against the scripted server."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import openai
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import agentel.testing as testing
from agentel.instrumentation.openai import OpenAIInstrumentor, _chat
from agentel.semconv import attributes as A

Reply, ToolCall, Usage = testing.Reply, testing.ToolCall, testing.Usage

MESSAGES = [{"role": "user", "content": "Say hi"}]


def client(server: Any, **kwargs: Any) -> Any:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="test", max_retries=0, **kwargs)


def async_client(server: Any, **kwargs: Any) -> Any:
    return openai.AsyncOpenAI(
        base_url=server.openai_base_url, api_key="test", max_retries=0, **kwargs
    )


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if k != A.AGENTEL_RUN_ID}


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def expected_chat_attributes(server: Any, result: Any, **extra: Any) -> dict[str, Any]:
    return {
        A.GEN_AI_OPERATION_NAME: "chat",
        A.GEN_AI_PROVIDER_NAME: "openai",
        A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        A.SERVER_ADDRESS: "127.0.0.1",
        A.SERVER_PORT: server.port,
        A.GEN_AI_RESPONSE_ID: result.id,
        A.GEN_AI_RESPONSE_MODEL: result.model,
        A.OPENAI_RESPONSE_SERVICE_TIER: "default",
        A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: result.system_fingerprint,
        **extra,
    }


def cost_keys(span: ReadableSpan) -> dict[str, Any]:
    return {
        k: v
        for k, v in span.attributes.items()
        if k == A.GEN_AI_USAGE_COST or k.startswith("agentel.cost.")
    }


# --- happy path ------------------------------------------------------------------------------


def test_sync_chat(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=5)))
    result = client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content == "hi"

    span = only_span(openai_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope.name == "agentel.instrumentation.openai"
    assert result.id and result.model == "gpt-4o-mini"
    got = {k: v for k, v in attrs(span).items() if k not in cost_keys(span)}
    assert got == expected_chat_attributes(
        server,
        result,
        **{
            A.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            A.GEN_AI_USAGE_INPUT_TOKENS: 10,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
            A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 0,
            A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 0,
        },
    )
    assert span.events == ()


def test_async_chat(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(
        Reply.text(
            "hello",
            usage=Usage(input_tokens=100, output_tokens=30, cached_tokens=64, reasoning_tokens=12),
        )
    )

    async def main() -> Any:
        return await async_client(server).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )

    result = asyncio.run(main())
    assert result.choices[0].message.content == "hello"
    span = only_span(openai_exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    got = {k: v for k, v in attrs(span).items() if k not in cost_keys(span)}
    assert got == expected_chat_attributes(
        server,
        result,
        **{
            A.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
            A.GEN_AI_USAGE_INPUT_TOKENS: 100,
            A.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
            A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 64,
            A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 12,
        },
    )


def test_cache_write_tokens(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(
        Reply.text("x", usage=Usage(input_tokens=50, output_tokens=1, cache_write_tokens=20))
    )
    client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(openai_exporter)
    assert span.attributes[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 20


def test_request_parameters(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("a"))
    client(server).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        temperature=0.2,
        top_p=0.9,
        max_completion_tokens=64,
        seed=7,
        stop="END",
        n=2,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        response_format={"type": "json_object"},
        service_tier="flex",
    )
    span = only_span(openai_exporter)
    a = span.attributes
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[A.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_SEED] == 7
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[A.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert a[A.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.5
    assert a[A.GEN_AI_REQUEST_PRESENCE_PENALTY] == -0.5
    assert a[A.GEN_AI_OUTPUT_TYPE] == "json"
    assert a[A.OPENAI_REQUEST_SERVICE_TIER] == "flex"
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop", "stop")
    assert A.GEN_AI_REQUEST_STREAM not in a


def test_max_tokens_and_stop_list_and_n1(
    openai_exporter: InMemorySpanExporter, server: Any
) -> None:
    server.enqueue(Reply.text("a"))
    client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=32, stop=["a", "b"], n=1
    )
    a = only_span(openai_exporter).attributes
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 32
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("a", "b")
    assert A.GEN_AI_REQUEST_CHOICE_COUNT not in a
    for key in (A.GEN_AI_REQUEST_TEMPERATURE, A.GEN_AI_REQUEST_TOP_P, A.GEN_AI_REQUEST_SEED):
        assert key not in a


def test_tool_calls_recorded_as_events(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("get_time", {"tz": "CET"}, id="call_fixed"),
        )
    )
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in ("get_weather", "get_time")
    ]
    result = client(server).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, tools=tools
    )
    calls = result.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]

    span = only_span(openai_exporter)
    assert span.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert [e.name for e in span.events] == ["agentel.tool_call", "agentel.tool_call"]
    assert [dict(e.attributes) for e in span.events] == [
        {
            A.GEN_AI_TOOL_NAME: c.function.name,
            A.GEN_AI_TOOL_CALL_ID: c.id,
            A.GEN_AI_TOOL_TYPE: "function",
        }
        for c in calls
    ]
    assert calls[1].id == "call_fixed"
    # arguments are content: not recorded without opt-in
    for event in span.events:
        assert "Paris" not in str(dict(event.attributes))


def test_with_raw_response(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("raw", usage=Usage(input_tokens=3, output_tokens=2)))
    raw = client(server).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "raw"
    span = only_span(openai_exporter)
    assert span.attributes[A.GEN_AI_RESPONSE_ID] == completion.id
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 3


def test_priced_call_has_cost(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    from agentel.semconv import pricing

    usage = Usage(input_tokens=1000, output_tokens=200, cached_tokens=400, reasoning_tokens=50)
    cost = pricing.default_pricebook().cost(
        "gpt-4o-mini",
        "openai",
        input_tokens=1000,
        output_tokens=200,
        cache_read_tokens=400,
        cache_write_tokens=0,
        reasoning_tokens=50,
    )
    if cost is None:
        pytest.skip("gpt-4o-mini is not in the price catalog")
    server.enqueue(Reply.text("priced", usage=usage))
    client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(openai_exporter)
    expected = pricing.cost_attributes(cost)
    assert cost_keys(span).keys() == expected.keys()
    for key, value in expected.items():
        assert span.attributes[key] == (pytest.approx(value) if isinstance(value, float) else value)


def test_unpriced_model_has_no_cost(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("x", usage=Usage(input_tokens=10, output_tokens=5)))
    client(server).chat.completions.create(model="no-such-model-xyz", messages=MESSAGES)
    span = only_span(openai_exporter)
    assert span.name == "chat no-such-model-xyz"
    assert cost_keys(span) == {}


def test_llm_span_is_child_of_agent_span(
    openai_exporter: InMemorySpanExporter, exporter: InMemorySpanExporter, server: Any
) -> None:
    from agentel.instrumentation import agent

    server.enqueue(Reply.text("hi"))
    with agent("assistant"):
        client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (root,) = exporter.get_finished_spans()
    chat = only_span(openai_exporter)
    assert chat.parent is not None
    assert chat.parent.span_id == root.context.span_id
    assert chat.context.trace_id == root.context.trace_id


# --- errors ----------------------------------------------------------------------------------


def test_http_500(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.error(status=500, message="boom"))
    with pytest.raises(openai.InternalServerError) as info:
        client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(openai_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "openai.InternalServerError"
    assert span.status.description.startswith("openai.InternalServerError: ")
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "openai.InternalServerError"
    assert A.GEN_AI_RESPONSE_ID not in span.attributes
    # the exception the caller sees is the SDK's own instance, re-raised unchanged
    assert isinstance(info.value, openai.InternalServerError)
    assert info.value.status_code == 500
    assert event.attributes["exception.message"] == str(info.value)


@pytest.mark.parametrize("is_async", [False, True])
def test_wrapper_reraises_the_same_exception_object(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], is_async: bool
) -> None:
    """Whatever the wrapped SDK method raises reaches the caller as the very same object."""
    from agentel.instrumentation._wrappers import async_llm_wrapper, sync_llm_wrapper

    provider, exporter = local_provider
    tracer = provider.get_tracer("test")
    original = openai.APIConnectionError(request=None)  # type: ignore[arg-type]

    def extract(instance: Any, args: tuple, kwargs: Any) -> Any:
        return _chat.chat_request(None, instance, args, kwargs)  # type: ignore[arg-type]

    def sync_call(**kwargs: Any) -> Any:
        raise original

    async def async_call(**kwargs: Any) -> Any:
        raise original

    with pytest.raises(openai.APIConnectionError) as info:
        if is_async:
            wrapper = async_llm_wrapper(tracer, extract, _chat.handle_response, site="t")
            asyncio.run(wrapper(async_call, None, (), {"model": "m"}))
        else:
            wrapper = sync_llm_wrapper(tracer, extract, _chat.handle_response, site="t")
            wrapper(sync_call, None, (), {"model": "m"})
    assert info.value is original
    span = only_span(exporter)
    assert span.name == "chat m"
    assert span.attributes[A.ERROR_TYPE] == "openai.APIConnectionError"


def test_async_http_error(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.error(status=429, message="slow down"))

    async def main() -> None:
        await async_client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    with pytest.raises(openai.RateLimitError):
        asyncio.run(main())
    span = only_span(openai_exporter)
    assert span.attributes[A.ERROR_TYPE] == "openai.RateLimitError"


def test_timeout(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("slow", delay=1.0))
    with pytest.raises(openai.APITimeoutError):
        client(server, timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = only_span(openai_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "openai.APITimeoutError"


# --- instrumentor lifecycle -------------------------------------------------------------------


def test_uninstrument_restores_original(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], server: Any
) -> None:
    from openai.resources.chat.completions import AsyncCompletions, Completions

    provider, exporter = local_provider
    original_sync = Completions.__dict__["create"]
    original_async = AsyncCompletions.__dict__["create"]
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        assert Completions.__dict__["create"] is not original_sync
        assert Completions.create.__wrapped__ is original_sync
        assert AsyncCompletions.__dict__["create"] is not original_async
    finally:
        instrumentor.uninstrument()
    assert Completions.__dict__["create"] is original_sync
    assert AsyncCompletions.__dict__["create"] is original_async

    server.enqueue(Reply.text("untraced"))
    client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert exporter.get_finished_spans() == ()


def test_instrument_twice_is_noop(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    from openai.resources.chat.completions import Completions

    wrapped_once = Completions.__dict__["create"]
    OpenAIInstrumentor().instrument()
    assert Completions.__dict__["create"] is wrapped_once
    server.enqueue(Reply.text("once"))
    client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(openai_exporter.get_finished_spans()) == 1


def test_instrumentation_dependencies() -> None:
    assert tuple(OpenAIInstrumentor().instrumentation_dependencies()) == ("openai >= 1.40",)


def test_capture_content_config_read_at_instrument_time(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, _ = local_provider
    instrumentor = OpenAIInstrumentor()
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "true")
    instrumentor.instrument(tracer_provider=provider)
    try:
        assert instrumentor.config is not None and instrumentor.config.capture_content
    finally:
        instrumentor.uninstrument()
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "false")
    instrumentor.instrument(tracer_provider=provider, capture_content=None)
    try:
        assert instrumentor.config is not None and not instrumentor.config.capture_content
    finally:
        instrumentor.uninstrument()


def test_suppressed_instrumentation(openai_exporter: InMemorySpanExporter, server: Any) -> None:
    server.enqueue(Reply.text("quiet"), Reply.text("quiet async"))
    with suppress_instrumentation():
        result = client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

        async def main() -> Any:
            return await async_client(server).chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES
            )

        async_result = asyncio.run(main())
    assert result.choices[0].message.content == "quiet"
    assert async_result.choices[0].message.content == "quiet async"
    assert openai_exporter.get_finished_spans() == ()


# --- robustness of our own code -----------------------------------------------------------------


@pytest.mark.swallows("openai.chat.usage", "openai.chat.tool_calls")
def test_broken_extraction_does_not_break_the_call(
    openai_exporter: InMemorySpanExporter,
    server: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(handle: Any, completion: Any) -> None:
        raise AttributeError("usage exploded")

    monkeypatch.setattr(_chat, "record_usage_block", broken)
    monkeypatch.setattr(_chat, "record_tool_calls", broken)
    caplog.set_level(logging.WARNING, logger="agentel.instrumentation")
    usage = Usage(input_tokens=1, output_tokens=1)
    server.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}), text="fine", usage=usage),
        Reply.tool_calls(ToolCall("get_time", {"tz": "CET"}), text="again", usage=usage),
    )
    c = client(server)
    first = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    second = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert first.choices[0].message.content == "fine"
    assert second.choices[0].message.content == "again"

    spans = openai_exporter.get_finished_spans()
    assert len(spans) == 2
    for span, result in zip(spans, (first, second), strict=True):
        # what could be read is still there; the broken part is missing; status untouched
        assert span.attributes[A.GEN_AI_RESPONSE_ID] == result.id
        assert A.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
        assert span.status.status_code is StatusCode.UNSET
    # logged once per site, not once per call
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len([r for r in warnings if "openai.chat.usage" in r.getMessage()]) <= 1
    assert len([r for r in warnings if "openai.chat.tool_calls" in r.getMessage()]) <= 1


@pytest.mark.swallows("openai.Completions.create.request")
def test_broken_request_extraction_passes_call_through(
    openai_exporter: InMemorySpanExporter, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("request reader exploded")

    monkeypatch.setattr(_chat, "server_attributes", broken)  # read by chat_request
    server.enqueue(Reply.text("still works"))
    result = client(server).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.choices[0].message.content == "still works"
    assert openai_exporter.get_finished_spans() == ()


@pytest.mark.swallows("openai.chat.usage")
def test_malformed_response_object(openai_exporter: InMemorySpanExporter) -> None:
    """handle_response survives objects whose attributes raise."""
    from agentel.instrumentation._call import ProviderCall
    from agentel.instrumentation._config import InstrumentationConfig

    class Exploding:
        id = "x-1"
        model = "m"
        choices = ()

        @property
        def usage(self) -> Any:
            raise RuntimeError("no usage for you")

    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("chat m")
    handle = ProviderCall(
        span,
        model="m",
        provider="openai",
        config=InstrumentationConfig(),
        metrics=None,
        attributes={},
    )
    assert _chat.handle_response(handle, Exploding()) is None
    handle.end()
    assert span.attributes[A.GEN_AI_RESPONSE_ID] == "x-1"
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
