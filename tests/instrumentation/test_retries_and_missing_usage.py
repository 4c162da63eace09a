"""SDK retries become span events, and a stream without usage says why its cost is unknown:
the real openai and anthropic SDKs over HTTP against the scripted server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.cli.main import main
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.store import open_store
from agentel.testing import Reply, ScriptedLLMServer, Usage

MESSAGES = [{"role": "user", "content": "hi"}]
# a 429 asking for 150 ms, then a 503 asking for 50 ms, then the answer
FAILURES = (
    Reply.error(429, "slow down", headers={"retry-after-ms": "150"}),
    Reply.error(503, "overloaded", headers={"retry-after": "0.05"}),
)


@pytest.fixture
def traced(local_provider: tuple[TracerProvider, InMemorySpanExporter]) -> Any:
    provider, exporter = local_provider
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    yield exporter
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def our_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    return span


def assert_two_retries(span: ReadableSpan) -> None:
    retries = [e for e in span.events if e.name == A.EVENT_RETRY]
    assert [e.attributes[A.AGENTEL_RETRY_ATTEMPT] for e in retries] == [1, 2]
    assert [e.attributes[A.HTTP_RESPONSE_STATUS_CODE] for e in retries] == [429, 503]
    waits = [e.attributes[A.AGENTEL_RETRY_WAIT] for e in retries]
    assert 0.15 <= waits[0] < 5 and 0.05 <= waits[1] < 5, waits
    assert span.start_time < retries[0].timestamp < retries[1].timestamp < span.end_time
    # the second wait starts after the first one ended
    assert retries[1].timestamp - retries[0].timestamp >= waits[0] * 1e9
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 10  # the answer still counts


@pytest.mark.parametrize("native", [False, True], ids=["plain", "sdk-native-span"])
def test_anthropic_retries_are_events_on_our_span(traced: Any, native: bool) -> None:
    """With the SDK's own span current around its retries, they still land on ours."""
    with ScriptedLLMServer(auto=False) as srv:
        srv.enqueue(*FAILURES, Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=2)))
        off = {} if native else {"open_telemetry": False}  # the SDK's own span is on by default
        client = anthropic.Anthropic(
            base_url=srv.anthropic_base_url, api_key="t", max_retries=2, **off
        )
        client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES)
    assert_two_retries(our_span(traced))


def test_openai_retries_are_events_on_the_llm_span(traced: Any) -> None:
    with ScriptedLLMServer(auto=False) as srv:
        srv.enqueue(*FAILURES, Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=2)))
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=2)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert_two_retries(our_span(traced))


def test_async_openai_retries_are_events_and_exhausted_retries_fail(traced: Any) -> None:
    async def call(srv: ScriptedLLMServer) -> None:
        client = openai.AsyncOpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=2)
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    with ScriptedLLMServer(auto=False) as srv:
        srv.enqueue(*FAILURES, Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=2)))
        asyncio.run(call(srv))
        assert_two_retries(our_span(traced))
        traced.clear()
        srv.enqueue(*FAILURES, Reply.error(429, headers={"retry-after-ms": "10"}))
        with pytest.raises(openai.RateLimitError):
            asyncio.run(call(srv))
    span = our_span(traced)
    assert len([e for e in span.events if e.name == A.EVENT_RETRY]) == 2  # then it gave up
    assert span.attributes[A.ERROR_TYPE] == "openai.RateLimitError"


def test_no_retry_no_event(traced: Any) -> None:
    with ScriptedLLMServer(auto=False) as srv:
        srv.enqueue(Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=2)))
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=2)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert not [e for e in our_span(traced).events if e.name == A.EVENT_RETRY]


@pytest.mark.parametrize(
    ("stream_options", "missing"),
    [
        (None, "stream_without_include_usage"),
        ({"include_usage": False}, "stream_without_include_usage"),
        ({"include_usage": True}, None),
    ],
)
def test_a_stream_without_usage_says_why(traced: Any, stream_options: Any, missing: Any) -> None:
    extra = {} if stream_options is None else {"stream_options": stream_options}
    with ScriptedLLMServer(auto=False) as srv:
        srv.enqueue(Reply.text("hi there", usage=Usage(input_tokens=10, output_tokens=2)))
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, **extra
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    span = our_span(traced)
    assert span.attributes.get(A.AGENTEL_USAGE_MISSING) == missing
    assert (A.GEN_AI_USAGE_COST in span.attributes) == (missing is None)


def test_show_says_why_a_calls_cost_is_unknown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(url)))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with ScriptedLLMServer(auto=False) as srv:
            srv.enqueue(Reply.text("hi", usage=Usage(input_tokens=10, output_tokens=2)))
            client = openai.OpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=0)
            for _ in client.chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, stream=True
            ):
                pass
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    with open_store(url) as store:
        (run,) = store.runs()
    assert (run["unpriced_calls"], run["cost_usd"]) == (1, 0)
    shown = CliRunner().invoke(main, ["show", run["run_id"], "--store", url])
    assert shown.exit_code == 0, shown.output
    assert "cost unknown: the stream was requested without" in shown.output
    assert 'stream_options={"include_usage": True}' in shown.output
