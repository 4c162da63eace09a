"""GoogleGenAIInstrumentor: the real google-genai SDK over real HTTP (Gemini API dialect)."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentel.instrumentation.google_genai import GoogleGenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

INSTRUMENTORS = (GoogleGenAIInstrumentor,)

MODEL = "gemini-2.5-flash"
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather of a city",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def client(srv: ScriptedLLMServer, retries: int = 0) -> genai.Client:
    retry = types.HttpRetryOptions(attempts=retries + 1, initial_delay=0, max_delay=0, jitter=0)
    options = types.HttpOptions(base_url=srv.url, retry_options=retry if retries else None)
    return genai.Client(api_key="test-key", http_options=options)


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def generate(srv: ScriptedLLMServer, is_async: bool, **kwargs: Any) -> Any:
    kwargs = {"model": MODEL, "contents": "Say hi", **kwargs}
    c = client(srv)
    if is_async:
        return asyncio.run(c.aio.models.generate_content(**kwargs))
    return c.models.generate_content(**kwargs)


def stream(srv: ScriptedLLMServer, is_async: bool, **kwargs: Any) -> list[Any]:
    kwargs = {"model": MODEL, "contents": "Say hi", **kwargs}
    c = client(srv)
    if is_async:

        async def run() -> list[Any]:
            return [chunk async for chunk in await c.aio.models.generate_content_stream(**kwargs)]

        return asyncio.run(run())
    return list(c.models.generate_content_stream(**kwargs))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_generate_content_tokens_thinking_cache_and_cost(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=300, cached_tokens=400, reasoning_tokens=120)
    srv.enqueue(Reply.text("hello", thinking="let me think", usage=usage))
    config = types.GenerateContentConfig(
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        max_output_tokens=512,
        stop_sequences=["END"],
        seed=7,
        candidate_count=1,
        response_mime_type="application/json",
    )
    response = generate(srv, is_async, model=f"models/{MODEL}", config=config)
    # on the wire Gemini reports the thinking beside the candidates
    assert response.usage_metadata.candidates_token_count == 180
    assert response.usage_metadata.thoughts_token_count == 120
    span = only(traced)
    assert span.name == f"generate_content {MODEL}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[A.GEN_AI_OPERATION_NAME] == "generate_content"
    assert a[A.GEN_AI_PROVIDER_NAME] == "gcp.gen_ai"
    assert a[A.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[A.GEN_AI_RESPONSE_MODEL] == MODEL
    assert a[A.GEN_AI_RESPONSE_ID] == response.response_id
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 400
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 300
    assert a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 120
    # catalog gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out (per 1M)
    expected = (600 * 0.30 + 400 * 0.03 + 300 * 2.50) / 1e6
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx(expected)
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[A.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[A.GEN_AI_REQUEST_TOP_K] == 40
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 512
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[A.GEN_AI_REQUEST_SEED] == 7
    assert A.GEN_AI_REQUEST_CHOICE_COUNT not in a  # 1 is the default
    assert a[A.GEN_AI_OUTPUT_TYPE] == "json"
    assert a[A.SERVER_ADDRESS] == "127.0.0.1"
    assert a[A.SERVER_PORT] == srv.port
    assert A.GEN_AI_REQUEST_STREAM not in a
    # content is off by default
    assert not [k for k in a if k.startswith(("gen_ai.input", "gen_ai.output.messages"))]
    assert A.GEN_AI_SYSTEM_INSTRUCTIONS not in a
    assert A.GEN_AI_TOOL_DEFINITIONS not in a


def test_dict_config_and_max_tokens_finish(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    srv.enqueue(Reply.text("cut", finish_reason="length"))
    generate(srv, False, config={"temperature": 0.0, "maxOutputTokens": 3, "candidate_count": 2})
    a = only(traced).attributes
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.0
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 3
    assert a[A.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("max_tokens",)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_usage_ttft_and_end(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    usage = Usage(input_tokens=50, output_tokens=30, reasoning_tokens=10)
    srv.enqueue(Reply.text("one two three four", thinking="hmm hmm", usage=usage))
    chunks = stream(srv, is_async)
    assert len(chunks) > 3
    span = only(traced)
    a = span.attributes
    assert a[A.GEN_AI_REQUEST_STREAM] is True
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 50
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 10
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.GEN_AI_RESPONSE_ID] == chunks[0].response_id
    assert a[A.GEN_AI_USAGE_COST] > 0


def test_stream_closed_early_sync(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.text("one two three four five"))
    c = client(srv)  # kept: a collected Client closes its HTTP client
    chunks = c.models.generate_content_stream(model=MODEL, contents="hi")
    next(chunks)
    chunks.close()
    chunks.close()  # a second close ends nothing twice
    a = only(traced).attributes
    assert a[A.AGENTEL_STREAM_END] == "closed"
    assert A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in a


def test_stream_closed_early_async(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.text("one two three four five"))

    async def run() -> None:
        c = client(srv)
        chunks = await c.aio.models.generate_content_stream(model=MODEL, contents="hi")
        await chunks.__anext__()
        await chunks.aclose()

    asyncio.run(run())
    assert only(traced).attributes[A.AGENTEL_STREAM_END] == "closed"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_broken_by_the_connection(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.text("one two three four five six", cut_after_chunks=2))
    with pytest.raises(Exception):  # noqa: B017 - the transport's own error, whatever its class
        stream(srv, is_async)
    span = only(traced)
    assert span.attributes[A.AGENTEL_STREAM_END] == "error"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE]


def test_stream_garbage_collected(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.text("one two three four five"))
    c = client(srv)
    chunks = c.models.generate_content_stream(model=MODEL, contents="hi")
    next(chunks)
    del chunks
    gc.collect()
    assert only(traced).attributes[A.AGENTEL_STREAM_END] == "abandoned"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("streamed", [False, True], ids=["unary", "stream"])
def test_tool_calls_and_definitions(
    instrument: Any, srv: ScriptedLLMServer, is_async: bool, streamed: bool
) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="fc_1")))
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        system_instruction="Be brief.",
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    run = stream if streamed else generate
    run(srv, is_async, contents="Weather in Paris?", config=config)
    span = only(traced)
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "fc_1"
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    a = span.attributes
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": WEATHER.parameters_json_schema,
        }
    ]
    assert json.loads(a[A.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}
    ]
    (message,) = json.loads(a[A.GEN_AI_OUTPUT_MESSAGES])
    assert message["role"] == "assistant"
    assert message["parts"][-1] == {
        "type": "tool_call",
        "id": "fc_1",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }


def test_tool_call_arguments_absent_without_content(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})))
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    generate(srv, False, config=config)
    (event,) = [e for e in only(traced).events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert A.GEN_AI_TOOL_CALL_ARGUMENTS not in event.attributes


def test_content_streamed_redacted_and_capped(instrument: Any, srv: ScriptedLLMServer) -> None:
    traced = instrument(capture_content=True, redact=lambda text: text.replace("Paris", "[CITY]"))
    srv.enqueue(Reply.text("It is sunny in Paris today.", thinking="Paris is in France"))
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part(text="Which day?")]),
        {"role": "user", "parts": [{"text": "Today"}]},
    ]
    stream(srv, False, contents=history)
    a = only(traced).attributes
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in [CITY]?"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": "Which day?"}]},
        {"role": "user", "parts": [{"type": "text", "content": "Today"}]},
    ]
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "[CITY] is in France"},
                {"type": "text", "content": "It is sunny in [CITY] today."},
            ],
            "finish_reason": "stop",
        }
    ]


def test_automatic_function_calling_counts_each_request(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    def get_weather(city: str) -> str:
        """Weather of a city."""
        return f"sunny in {city}"

    srv.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}), usage=Usage(100, 10)),
        Reply.text("It is sunny.", usage=Usage(130, 5)),
    )
    response = generate(srv, False, contents="Weather?", config={"tools": [get_weather]})
    assert response.text == "It is sunny."
    first, second = traced.get_finished_spans()
    assert first.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert second.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 130
    assert first.attributes[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert [e.name for e in first.events] == ["agentel.tool_call"]


def test_chats_send_message(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    c = client(srv)
    chat = c.chats.create(model=MODEL)
    chat.send_message("Hello")
    chat.send_message("Again")
    spans = traced.get_finished_spans()
    assert [s.name for s in spans] == [f"generate_content {MODEL}"] * 2
    assert (
        spans[1].attributes[A.GEN_AI_USAGE_INPUT_TOKENS]
        > spans[0].attributes[A.GEN_AI_USAGE_INPUT_TOKENS]
    )


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_error_type_and_status(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.error(429, "quota"))
    with pytest.raises(errors.ClientError) as caught:
        generate(srv, is_async)
    assert caught.value.code == 429
    span = only(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "google.genai.errors.ClientError"
    assert A.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_retries_stay_inside_one_span(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    srv.enqueue(Reply.error(503, "busy"), Reply.text("ok", usage=Usage(20, 3)))
    c = client(srv, retries=2)
    response = c.models.generate_content(model=MODEL, contents="hi")
    assert response.text == "ok"
    assert len(srv.requests) == 2
    span = only(traced)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 20


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_embeddings(traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool) -> None:
    kwargs: dict[str, Any] = {
        "model": "gemini-embedding-001",
        "contents": ["abcd efgh", "ij"],
        "config": {"output_dimensionality": 4},
    }
    c = client(srv)
    if is_async:
        result = asyncio.run(c.aio.models.embed_content(**kwargs))
    else:
        result = c.models.embed_content(**kwargs)
    assert [len(e.values) for e in result.embeddings] == [4, 4]
    span = only(traced)
    assert span.name == "embeddings gemini-embedding-001"
    a = span.attributes
    assert a[A.GEN_AI_OPERATION_NAME] == "embeddings"
    assert a[A.GEN_AI_PROVIDER_NAME] == "gcp.gen_ai"
    assert a[A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 3 + 1  # ceil(9 / 4) + ceil(2 / 4)
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx(4 * 0.15 / 1e6)


def test_embeddings_error(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.error(400, "bad"))
    with pytest.raises(errors.ClientError):
        c = client(srv)
        c.models.embed_content(model="gemini-embedding-001", contents="x")
    assert only(traced).attributes[A.ERROR_TYPE] == "google.genai.errors.ClientError"


def test_metrics(instrument: Any, metrics: Any, srv: ScriptedLLMServer) -> None:
    instrument(meter_provider=metrics.provider)
    srv.enqueue(
        Reply.text("a", usage=Usage(100, 20)),
        Reply.text("b c d", usage=Usage(50, 10)),
        Reply.error(500, "boom"),
    )
    c = client(srv)
    c.models.generate_content(model=MODEL, contents="hi")
    list(c.models.generate_content_stream(model=MODEL, contents="hi"))
    with pytest.raises(errors.ServerError):
        c.models.generate_content(model=MODEL, contents="hi")
    assert metrics.summary() == {
        "tokens": {"input": 150, "output": 30},
        "calls": {None: 2, "google.genai.errors.ServerError": 1},
        "first_chunks": 1,
        "operations": {"generate_content"},
        "providers": {"gcp.gen_ai"},
        "models": {MODEL},
        "servers": {("127.0.0.1", srv.port)},
        "cost": True,
    }


def test_uninstrument_restores(instrument: Any, srv: ScriptedLLMServer) -> None:
    from google.genai import models

    original = models.Models._generate_content
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    assert models.Models._generate_content is not original
    instrumentor.uninstrument()
    assert models.Models._generate_content is original


def test_registered_for_zero_code_and_configure() -> None:
    from importlib.metadata import entry_points

    from agentel.sdk._configure import INSTRUMENTORS

    (ep,) = [
        e
        for e in entry_points(group="opentelemetry_instrumentor")
        if e.name == "agentel_google_genai"
    ]
    assert ep.load() is GoogleGenAIInstrumentor
    assert INSTRUMENTORS["google_genai"] == ep.value


def test_imports_without_the_sdk() -> None:
    code = (
        "import sys\n"
        "sys.modules['google.genai'] = None\n"
        "import agentel.instrumentation.google_genai as m, agentel.sdk\n"
        "assert m.GoogleGenAIInstrumentor\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_stream_with_automatic_function_calling_sums_every_request(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    def get_weather(city: str) -> str:
        """Weather of a city."""
        return f"sunny in {city}"

    srv.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}), usage=Usage(100, 10)),
        Reply.text("It is sunny.", usage=Usage(130, 5, cached_tokens=100)),
    )
    chunks = stream(srv, False, contents="Weather?", config={"tools": [get_weather]})
    assert "".join(c.text or "" for c in chunks) == "It is sunny."
    a = only(traced).attributes
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 230
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
