"""Content capture (opt-in, redacted, capped), GenAI metrics, and robustness against
malformed responses -- real SDKs against the scripted server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.instrumentation import _config, _metrics, llm
from agentel.instrumentation._config import InstrumentationConfig
from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.semconv import attributes as A
from agentel.semconv.attributes import EVENT_INFERENCE_DETAILS as CONTENT_EVENT
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

INSTRUMENTORS = (OpenAIInstrumentor, AnthropicInstrumentor)

API_KEY = "sk-agentel-very-secret-key"
CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_DEFINITIONS,
)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object"},
        },
    }
]
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_0", "content": "14C rain"},
]


def oai(srv: ScriptedLLMServer) -> Any:
    return openai.OpenAI(base_url=srv.openai_base_url, api_key=API_KEY, max_retries=0)


def ant(srv: ScriptedLLMServer) -> Any:
    return anthropic.Anthropic(
        base_url=srv.anthropic_base_url, api_key=API_KEY, max_retries=0, open_telemetry=False
    )


def every_value(span: ReadableSpan) -> str:
    values = [str(v) for v in span.attributes.values()]
    values += [str(dict(e.attributes)) for e in span.events]
    return " ".join(values)


def chat_with_tools(srv: ScriptedLLMServer) -> None:
    srv.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Lyon"}, id="call_1"), text="Checking.")
    )
    oai(srv).chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION, tools=TOOLS)


def test_no_content_by_default(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(A.ENV_CAPTURE_CONTENT, raising=False)
    exporter = instrument()
    chat_with_tools(srv)
    (span,) = exporter.get_finished_spans()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    assert A.GEN_AI_TOOL_CALL_ARGUMENTS not in span.events[0].attributes
    assert "Paris" not in every_value(span) and "Lyon" not in every_value(span)


def test_openai_content_in_the_official_shape(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "true")
    exporter = instrument()
    chat_with_tools(srv)
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You are terse."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_0",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_0", "response": "14C rain"}],
        },
    ]
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking."},
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"city": "Lyon"},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather",
            "parameters": {"type": "object"},
        }
    ]
    assert json.loads(span.events[0].attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Lyon"}
    assert API_KEY not in every_value(span)
    assert "authorization" not in every_value(span).lower()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_anthropic_content_streamed(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    is_async: bool,
) -> None:
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "SPAN_AND_EVENT")
    exporter = instrument()
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("lookup", {"q": "otel"}, id="toolu_1"), text="On it.", thinking="hmm"
        )
    )
    kwargs: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Find otel"}],
        "tools": [{"name": "lookup", "description": "Search", "input_schema": {"type": "object"}}],
    }
    if is_async:

        async def main() -> None:
            client = anthropic.AsyncAnthropic(
                base_url=srv.anthropic_base_url,
                api_key=API_KEY,
                max_retries=0,
                open_telemetry=False,
            )
            async with client.messages.stream(**kwargs) as stream:
                await stream.until_done()

        asyncio.run(main())
    else:
        with ant(srv).messages.stream(**kwargs) as stream:
            stream.until_done()
    (span,) = exporter.get_finished_spans()
    a = span.attributes
    assert json.loads(a[A.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Find otel"}]}
    ]
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "text", "content": "On it."},
                {
                    "type": "tool_call",
                    "id": "toolu_1",
                    "name": "lookup",
                    "arguments": {"q": "otel"},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "lookup",
            "description": "Search",
            "parameters": {"type": "object"},
        }
    ]
    (details,) = [e for e in span.events if e.name == CONTENT_EVENT]
    assert {k: details.attributes[k] for k in CONTENT_KEYS} == {k: a[k] for k in CONTENT_KEYS}
    assert API_KEY not in every_value(span)


def test_event_only_mode(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "EVENT_ONLY")
    exporter = instrument()
    chat_with_tools(srv)
    (span,) = exporter.get_finished_spans()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    (details,) = [e for e in span.events if e.name == CONTENT_EVENT]
    assert "Weather in Paris?" in details.attributes[A.GEN_AI_INPUT_MESSAGES]


def test_cap_and_redaction(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "true")
    monkeypatch.setenv(A.ENV_MAX_CONTENT_CHARS, "120")
    exporter = instrument(
        redact=lambda text: text.replace("Paris", "<city>").replace("Lyon", "<city>")
    )
    long = "Paris " + "x" * 500
    srv.enqueue(Reply.text("ok"))
    oai(srv).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": long}]
    )
    chat_with_tools(srv)
    capped, redacted = exporter.get_finished_spans()
    value = capped.attributes[A.GEN_AI_INPUT_MESSAGES]
    assert value.startswith('[{"role":"user","parts":[{"type":"text","content":"<city> xxx')
    full = [
        {"role": "user", "parts": [{"type": "text", "content": long.replace("Paris", "<city>")}]}
    ]
    marker = f"...[agentel: truncated {len(json.dumps(full, separators=(',', ':'))) - 120} chars]"
    assert value.endswith(marker)
    assert len(value) == 120 + len(marker)
    assert "Paris" not in every_value(redacted) and "Lyon" not in every_value(redacted)
    (event,) = redacted.events
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "<city>"}
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"  # structure is not redacted


@pytest.mark.swallows("content.redact")
def test_failing_redactor_drops_content_not_the_call(
    instrument: Callable[..., InMemorySpanExporter], srv: ScriptedLLMServer
) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("redactor bug")

    exporter = instrument(capture_content=True, redact=broken)
    srv.enqueue(Reply.text("still fine"))
    result = oai(srv).chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    assert result.choices[0].message.content == "still fine"
    (span,) = exporter.get_finished_spans()
    assert not set(CONTENT_KEYS) & set(span.attributes)
    assert "Paris" not in every_value(span)


def test_manual_api_content_uses_the_configured_redactor(exporter: InMemorySpanExporter) -> None:
    _config.set_default_config(
        InstrumentationConfig(
            capture_content=True, redact=lambda t: t.upper(), max_content_chars=1000
        )
    )
    try:
        with llm("my-model", "vllm") as call:
            call.record_content(
                input_messages=[{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
            )
        _config.set_default_config(InstrumentationConfig())
        with llm("my-model", "vllm") as call:
            call.record_content(input_messages=[{"role": "user", "parts": []}])
    finally:
        _config.set_default_config(None)
    captured, off = exporter.get_finished_spans()
    assert json.loads(captured.attributes[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "HI"}]}
    ]
    assert A.GEN_AI_INPUT_MESSAGES not in off.attributes


def test_configure_plumbs_redact(memory_spans: InMemorySpanExporter) -> None:
    from agentel.sdk import configure

    def redact(text: str) -> str:
        return text

    handle = configure(store=None, instrument=["anthropic"], redact=redact)
    try:
        assert _config.default_config().redact is redact
        (instrumentor,) = handle.instrumentors
        assert instrumentor.config.redact is redact
    finally:
        handle.shutdown()
        _config.set_default_redactor(None)


# --- metrics -----------------------------------------------------------------------------------


def test_metrics(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], srv: ScriptedLLMServer
) -> None:
    provider, _ = local_provider
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, meter_provider=meters)
    try:
        srv.enqueue(
            Reply.text("a", usage=Usage(input_tokens=100, output_tokens=20)),
            Reply.text("b c d", usage=Usage(input_tokens=50, output_tokens=10)),
            Reply.error(500, "boom"),
        )
        client = oai(srv)
        client.chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
        list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=CONVERSATION,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    finally:
        instrumentor.uninstrument()
    data = reader.get_metrics_data()
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert set(metrics) == {
        A.METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
        A.METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
        A.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
        A.METRIC_AGENTEL_CLIENT_COST,
    }
    tokens = metrics[A.METRIC_GEN_AI_CLIENT_TOKEN_USAGE]
    assert tokens.unit == "{token}"
    sums = {p.attributes[A.GEN_AI_TOKEN_TYPE]: (p.sum, p.count) for p in tokens.data.data_points}
    assert sums == {"input": (150, 2), "output": (30, 2)}
    for point in tokens.data.data_points:
        assert tuple(point.explicit_bounds) == _metrics.TOKEN_USAGE_BUCKETS
        assert point.attributes[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
        assert point.attributes[A.SERVER_PORT] == srv.port
    duration = metrics[A.METRIC_GEN_AI_CLIENT_OPERATION_DURATION]
    assert duration.unit == "s"
    by_error = {p.attributes.get(A.ERROR_TYPE): p.count for p in duration.data.data_points}
    assert by_error == {None: 2, "openai.InternalServerError": 1}
    assert all(
        tuple(p.explicit_bounds) == _metrics.DURATION_BUCKETS for p in duration.data.data_points
    )
    (ttft,) = metrics[A.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK].data.data_points
    assert ttft.count == 1 and ttft.sum > 0
    cost = metrics[A.METRIC_AGENTEL_CLIENT_COST]
    assert cost.unit == "USD"
    (point,) = cost.data.data_points
    assert point.value > 0


# --- robustness ----------------------------------------------------------------------------------


@pytest.mark.swallows(
    "openai.chat.tool_calls", "openai.chat.content", "anthropic.messages.response"
)
def test_malformed_responses_never_break_the_call(
    instrument: Callable[..., InMemorySpanExporter],
    srv: ScriptedLLMServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agentel.instrumentation")
    exporter = instrument(capture_content=True)
    weird_chat = {
        "usage": {
            "prompt_tokens": "lots",
            "completion_tokens": -3,
            "prompt_tokens_details": "nope",
        },
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fine", "tool_calls": 12},
                "finish_reason": None,
            }
        ],
    }
    weird_message = {"usage": {"input_tokens": "x", "output_tokens": None}, "content": 3}
    srv.enqueue(
        Reply(content="fine", body_override=weird_chat),
        Reply(content="fine", body_override=weird_chat),
        Reply(content="fine", body_override=weird_message),
    )
    client = oai(srv)
    first = client.chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    second = client.chat.completions.create(model="gpt-4o-mini", messages=CONVERSATION)
    message = ant(srv).messages.create(
        model="claude-haiku-4-5", max_tokens=8, messages=CONVERSATION[1:2]
    )
    # the caller gets exactly what the SDK parsed, untouched
    for result in (first, second):
        assert result.choices[0].message.content == "fine"
        assert result.choices[0].message.tool_calls == 12
        assert result.usage.prompt_tokens == "lots"
    assert message.content == 3
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    for span in spans:
        assert span.attributes[A.GEN_AI_RESPONSE_ID]
        assert A.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if "openai.chat.tool_calls" in w]) == 1  # once, not per call
    assert any("anthropic.messages" in w for w in warnings)


def test_tool_definitions_of_every_request_shape() -> None:
    from agentel.instrumentation.anthropic import _messages
    from agentel.instrumentation.openai import _chat, _responses

    schema = {"type": "object"}
    want = {"type": "function", "name": "f", "description": "d", "parameters": schema}
    chat = [
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": schema}}
    ]
    assert _chat.tool_definitions(chat) == [want]
    assert _chat.tool_definitions([{"type": "web_search"}]) == [{"type": "web_search"}]
    responses = [{"type": "function", "name": "f", "description": "d", "parameters": schema}]
    assert _responses.tool_definitions(responses) == [want]
    assert _responses.tool_definitions([{"type": "web_search"}]) == [{"type": "web_search"}]
    anthropic = [{"name": "f", "description": "d", "input_schema": schema}]
    assert _messages.tool_definitions(anthropic) == [want]
    for module in (_chat, _responses, _messages):
        assert module.tool_definitions([]) is None and module.tool_definitions(None) is None
