"""MistralInstrumentor: the real mistralai SDK over real HTTP against the scripted server's
Mistral dialect, sync and async, streams, tools, errors, embeddings, content on and off."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from typing import Any

import pytest
from mistralai.client import Mistral
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentel.instrumentation.mistralai import MistralInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

INSTRUMENTORS = (MistralInstrumentor,)

MODEL = "mistral-small-latest"
MESSAGES = [{"role": "user", "content": "Say hi"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def client(srv: ScriptedLLMServer) -> Mistral:
    return Mistral(api_key="test", server_url=srv.mistral_base_url)


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_complete_tokens_cost_and_params(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.text("hello", usage=Usage(input_tokens=1000, output_tokens=200)))
    kwargs = {
        "model": MODEL,
        "messages": MESSAGES,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 64,
        "random_seed": 7,
        "stop": ["END"],
    }
    c = client(srv)
    if is_async:
        response = asyncio.run(c.chat.complete_async(**kwargs))
    else:
        response = c.chat.complete(**kwargs)
    span = only(traced)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "mistral_ai"
    assert a[A.GEN_AI_RESPONSE_ID] == response.id
    assert a[A.GEN_AI_RESPONSE_MODEL] == MODEL
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1000, 200)
    # mistral-small: $0.10 in, $0.30 out per 1M
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx((1000 * 0.10 + 200 * 0.30) / 1e6)
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[A.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_SEED] == 7
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[A.SERVER_ADDRESS] == "127.0.0.1" and a[A.SERVER_PORT] == srv.port
    assert A.GEN_AI_INPUT_MESSAGES not in a and A.GEN_AI_OUTPUT_MESSAGES not in a


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_usage_and_ttft(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.text("one two three four", usage=Usage(input_tokens=40, output_tokens=9)))
    c = client(srv)
    if is_async:

        async def run() -> list[Any]:
            stream = await c.chat.stream_async(model=MODEL, messages=MESSAGES)
            return [event async for event in stream]

        events = asyncio.run(run())
    else:
        events = list(c.chat.stream(model=MODEL, messages=MESSAGES))
    assert len(events) > 3
    span = only(traced)
    a = span.attributes
    assert a[A.GEN_AI_REQUEST_STREAM] is True
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (40, 9)
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.GEN_AI_USAGE_COST] > 0


@pytest.mark.parametrize("path", ["closed", "error", "abandoned"])
def test_stream_ends_its_span(traced: InMemorySpanExporter, srv: ScriptedLLMServer, path: str):
    cut = 3 if path == "error" else None
    srv.enqueue(Reply(content="one two three four five six", cut_after_chunks=cut))
    c = client(srv)
    stream = c.chat.stream(model=MODEL, messages=MESSAGES)
    if path == "closed":
        with stream:
            next(stream)
    elif path == "error":
        with pytest.raises(Exception):  # noqa: B017 - the transport's own error
            list(stream)
    else:
        next(stream)
        del stream
        gc.collect()
    span = only(traced)
    assert span.attributes[A.AGENTEL_STREAM_END] == path
    if path == "error":
        assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
def test_tool_calls_and_content(instrument: Any, srv: ScriptedLLMServer, streamed: bool) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="call_1")))
    c = client(srv)
    if streamed:
        list(c.chat.stream(model=MODEL, messages=MESSAGES, tools=TOOLS))
    else:
        c.chat.complete(model=MODEL, messages=MESSAGES, tools=TOOLS)
    span = only(traced)
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    a = span.attributes
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    (message,) = json.loads(a[A.GEN_AI_OUTPUT_MESSAGES])
    assert message["parts"][-1]["name"] == "get_weather"


def test_error_type(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.error(429, "slow down"))
    with pytest.raises(Exception) as caught:  # the SDK's own error class, whichever it is
        client(srv).chat.complete(model=MODEL, messages=MESSAGES)
    span = only(traced)
    assert span.status.status_code is StatusCode.ERROR
    cls = type(caught.value)
    assert span.attributes[A.ERROR_TYPE] == f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_embeddings(traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool) -> None:
    c = client(srv)
    if is_async:
        asyncio.run(c.embeddings.create_async(model="mistral-embed", inputs=["abcdefgh", "ij"]))
    else:
        c.embeddings.create(model="mistral-embed", inputs=["abcdefgh", "ij"])
    span = only(traced)
    assert span.name == "embeddings mistral-embed"
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "mistral_ai"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx(3 * 0.10 / 1e6)


def test_registered_for_zero_code_and_configure() -> None:
    from importlib.metadata import entry_points

    from agentel.sdk._configure import INSTRUMENTORS

    (ep,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agentel_mistralai"
    ]
    assert ep.load() is MistralInstrumentor
    assert INSTRUMENTORS["mistralai"] == ep.value


def test_imports_without_the_sdk() -> None:
    code = (
        "import sys\n"
        "sys.modules['mistralai'] = None\n"
        "import agentel.instrumentation.mistralai as m, agentel.sdk\n"
        "assert m.MistralInstrumentor\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_metrics(instrument: Any, metrics: Any, srv: ScriptedLLMServer) -> None:
    instrument(meter_provider=metrics.provider)
    srv.enqueue(
        Reply.text("a", usage=Usage(100, 20)),
        Reply.text("b c d", usage=Usage(50, 10)),
        Reply.error(429, "slow down"),
    )
    c = client(srv)
    c.chat.complete(model=MODEL, messages=MESSAGES)
    list(c.chat.stream(model=MODEL, messages=MESSAGES))
    with pytest.raises(Exception) as caught:  # the SDK's own error class, whichever it is
        c.chat.complete(model=MODEL, messages=MESSAGES)
    asyncio.run(c.embeddings.create_async(model="mistral-embed", inputs=["abcdefgh", "ij"]))
    error = f"{type(caught.value).__module__}.{type(caught.value).__qualname__}"
    assert metrics.summary() == {
        "tokens": {"input": 153, "output": 30},
        "calls": {None: 3, error: 1},
        "first_chunks": 1,
        "operations": {"chat", "embeddings"},
        "providers": {"mistral_ai"},
        "models": {MODEL, "mistral-embed"},
        "servers": {("127.0.0.1", srv.port)},
        "cost": True,
    }
