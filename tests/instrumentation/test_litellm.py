"""LiteLLMInstrumentor: the real litellm SDK over real HTTP against the scripted server
(OpenAI and Gemini routes), sync and async, streams, tools, errors, retries, embeddings."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map fetch at import

import asyncio
import gc
import json
import subprocess
import sys
from typing import Any

import litellm
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentel.instrumentation.litellm import LiteLLMInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

INSTRUMENTORS = (LiteLLMInstrumentor,)

MESSAGES = [{"role": "user", "content": "Say hi"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def openai_route(srv: ScriptedLLMServer, **kwargs: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "api_base": srv.openai_base_url,
        "api_key": "test",
        "messages": MESSAGES,
        **kwargs,
    }


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_completion_openai_route(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=200, cached_tokens=400, reasoning_tokens=50)
    srv.enqueue(Reply.text("hello", usage=usage))
    kwargs = openai_route(srv, temperature=0.2, max_tokens=64, stop=["END"])
    if is_async:
        response = asyncio.run(litellm.acompletion(**kwargs))
    else:
        response = litellm.completion(**kwargs)
    span = only(traced)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert a[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    assert a[A.GEN_AI_RESPONSE_ID] == response.id
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 400
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 200
    assert a[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 50
    # gpt-4o-mini: $0.15 in, $0.075 cached, $0.60 out per 1M
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx((600 * 0.15 + 400 * 0.075 + 200 * 0.6) / 1e6)
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("END",)
    assert a[A.SERVER_ADDRESS] == "127.0.0.1" and a[A.SERVER_PORT] == srv.port
    assert A.GEN_AI_INPUT_MESSAGES not in a and A.GEN_AI_OUTPUT_MESSAGES not in a


def test_completion_gemini_route_reports_the_routed_provider(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    srv.enqueue(Reply.text("hello", usage=Usage(input_tokens=30, output_tokens=5)))
    litellm.completion(
        model="gemini/gemini-2.5-flash",
        api_base=srv.url + "/v1beta",
        api_key="test",
        messages=MESSAGES,
    )
    a = only(traced).attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "gcp.gemini"
    assert a[A.GEN_AI_REQUEST_MODEL] == "gemini-2.5-flash"
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (30, 5)
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx((30 * 0.30 + 5 * 2.50) / 1e6)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_stream_usage_and_ttft(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool
) -> None:
    srv.enqueue(Reply.text("one two three four", usage=Usage(input_tokens=40, output_tokens=9)))
    kwargs = openai_route(srv, stream=True, stream_options={"include_usage": True})
    if is_async:

        async def run() -> list[Any]:
            return [chunk async for chunk in await litellm.acompletion(**kwargs)]

        chunks = asyncio.run(run())
    else:
        chunks = list(litellm.completion(**kwargs))
    assert len(chunks) > 3
    span = only(traced)
    a = span.attributes
    assert a[A.GEN_AI_REQUEST_STREAM] is True
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert (a[A.GEN_AI_USAGE_INPUT_TOKENS], a[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (40, 9)
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.mark.parametrize("path", ["error", "abandoned"])
def test_stream_ends_its_span(traced: InMemorySpanExporter, srv: ScriptedLLMServer, path: str):
    cut = 3 if path == "error" else None
    srv.enqueue(Reply(content="one two three four five six", cut_after_chunks=cut))
    stream = litellm.completion(**openai_route(srv, stream=True))
    if path == "error":
        with pytest.raises(Exception):  # noqa: B017 - LiteLLM maps the transport error its way
            list(stream)
    else:
        next(stream)
        del stream
        gc.collect()
    span = only(traced)
    assert span.attributes[A.AGENTEL_STREAM_END] == path
    if path == "error":
        assert span.status.status_code is StatusCode.ERROR


def test_tool_calls_and_content(instrument: Any, srv: ScriptedLLMServer) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="call_1")))
    litellm.completion(**openai_route(srv, tools=TOOLS))
    span = only(traced)
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    a = span.attributes
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hi"}]}
    ]


def test_error_type(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.error(429, "slow down", headers={"x-should-retry": "false"}))
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(**openai_route(srv, max_retries=0))
    span = only(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "litellm.exceptions.RateLimitError"


def test_retries_stay_inside_one_span(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    srv.enqueue(
        Reply.error(503, "busy", headers={"x-should-retry": "false"}),
        Reply.text("ok", usage=Usage(20, 3)),
    )
    response = litellm.completion(**openai_route(srv, num_retries=1, max_retries=0))
    assert response.choices[0].message.content == "ok"
    span = only(traced)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 20


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_embedding(traced: InMemorySpanExporter, srv: ScriptedLLMServer, is_async: bool) -> None:
    kwargs = {
        "model": "openai/text-embedding-3-small",
        "api_base": srv.openai_base_url,
        "api_key": "test",
        "input": ["abcdefgh", "ij"],
    }
    if is_async:
        asyncio.run(litellm.aembedding(**kwargs))
    else:
        litellm.embedding(**kwargs)
    span = only(traced)
    assert span.name == "embeddings text-embedding-3-small"
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx(3 * 0.02 / 1e6)


def test_registered_for_zero_code_and_configure() -> None:
    from importlib.metadata import entry_points

    from agentel.sdk._configure import INSTRUMENTORS

    (ep,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agentel_litellm"
    ]
    assert ep.load() is LiteLLMInstrumentor
    assert INSTRUMENTORS["litellm"] == ep.value


def test_never_imports_litellm_and_patches_it_on_import() -> None:
    code = (
        "import sys\n"
        "from agentel.instrumentation.litellm import LiteLLMInstrumentor\n"
        "i = LiteLLMInstrumentor()\n"
        "i.instrument()\n"
        "assert 'litellm' not in sys.modules\n"
        "import litellm\n"
        "assert type(litellm.completion).__name__ == 'FunctionWrapper', type(litellm.completion)\n"
        "i.uninstrument()\n"
        "assert type(litellm.completion).__name__ == 'function'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_metrics(instrument: Any, metrics: Any, srv: ScriptedLLMServer) -> None:
    instrument(meter_provider=metrics.provider)
    srv.enqueue(
        Reply.text("a", usage=Usage(100, 20)),
        Reply.text("b c d", usage=Usage(50, 10)),
        Reply.error(429, "slow down", headers={"x-should-retry": "false"}),
    )
    litellm.completion(**openai_route(srv))
    stream_options = {"include_usage": True}
    list(litellm.completion(**openai_route(srv, stream=True, stream_options=stream_options)))
    with pytest.raises(litellm.RateLimitError):
        litellm.completion(**openai_route(srv, max_retries=0))
    embed = {"model": "openai/text-embedding-3-small", "input": ["abcdefgh", "ij"]}
    asyncio.run(litellm.aembedding(api_base=srv.openai_base_url, api_key="test", **embed))
    assert metrics.summary() == {
        "tokens": {"input": 153, "output": 30},
        "calls": {None: 3, "litellm.exceptions.RateLimitError": 1},
        "first_chunks": 1,
        "operations": {"chat", "embeddings"},
        "providers": {"openai"},
        "models": {"gpt-4o-mini", "text-embedding-3-small"},
        "servers": {("127.0.0.1", srv.port)},
        "cost": True,
    }
