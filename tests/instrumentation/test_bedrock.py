"""BedrockInstrumentor: real boto3 / botocore over real HTTP (Converse JSON and the binary
AWS event-stream framing) against the scripted server, with fake credentials."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import boto3
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentel.instrumentation.bedrock import BedrockInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

INSTRUMENTORS = (BedrockInstrumentor,)

NOVA = "us.amazon.nova-pro-v1:0"
CLAUDE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
MISTRAL = "mistral.mistral-7b-instruct-v0:2"
USER = [{"role": "user", "content": [{"text": "Say hi"}]}]
WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather of a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}
BODIES = {
    CLAUDE: {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "temperature": 0.5,
        "messages": [{"role": "user", "content": "Say hi"}],
    },
    "amazon.nova-lite-v1:0": {
        "schemaVersion": "messages-v1",
        "messages": USER,
        "inferenceConfig": {"max_new_tokens": 64, "temperature": 0.5},
    },
    LLAMA: {"prompt": "Say hi", "max_gen_len": 64, "temperature": 0.5},
    MISTRAL: {"prompt": "<s>[INST] Say hi [/INST]", "max_tokens": 64, "temperature": 0.5},
}


def client(srv: ScriptedLLMServer, attempts: int = 1) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=srv.url,
        aws_access_key_id="AKIDAGENTELTEST",
        aws_secret_access_key="not-a-secret",
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
    )


def aio_run(srv: ScriptedLLMServer, use: Callable[[Any], Awaitable[Any]], attempts: int = 1) -> Any:
    """Run ``use(client)`` with a real aiobotocore bedrock-runtime client on a fresh loop."""

    async def main() -> Any:
        session = get_session()
        async with session.create_client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=srv.url,
            aws_access_key_id="AKIDAGENTELTEST",
            aws_secret_access_key="not-a-secret",
            config=AioConfig(retries={"total_max_attempts": attempts, "mode": "standard"}),
        ) as c:
            return await use(c)

    return asyncio.run(main())


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def test_converse_tokens_cache_cost_and_params(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, cached_tokens=600, cache_write_tokens=200)
    srv.enqueue(Reply.text("hello", usage=usage))
    response = client(srv).converse(
        modelId=NOVA,
        messages=USER,
        inferenceConfig={"maxTokens": 64, "temperature": 0.2, "topP": 0.9, "stopSequences": ["X"]},
    )
    # on the wire Bedrock reports the uncached input apart
    assert response["usage"]["inputTokens"] == 200
    span = only(traced)
    assert span.name == f"chat {NOVA}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[A.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert a[A.GEN_AI_OPERATION_NAME] == "chat"
    assert a[A.GEN_AI_REQUEST_MODEL] == NOVA
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 600
    assert a[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 200
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 100
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert a[A.GEN_AI_RESPONSE_ID] == response["ResponseMetadata"]["RequestId"]
    # nova-pro: $0.80 in, $0.20 cached (cache writes at the input price), $3.20 out per 1M
    expected = (400 * 0.80 + 600 * 0.20 + 100 * 3.20) / 1e6
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx(expected)
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[A.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[A.GEN_AI_REQUEST_STOP_SEQUENCES] == ("X",)
    assert a[A.SERVER_ADDRESS] == "127.0.0.1" and a[A.SERVER_PORT] == srv.port
    assert not [k for k in a if k.startswith(("gen_ai.input", "gen_ai.output.messages"))]


@pytest.mark.parametrize("streamed", [False, True], ids=["converse", "converse_stream"])
def test_tool_calls_and_content(instrument: Any, srv: ScriptedLLMServer, streamed: bool) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="tu_1")))
    kwargs = {
        "modelId": CLAUDE,
        "messages": [{"role": "user", "content": [{"text": "Weather in Paris?"}]}],
        "system": [{"text": "Be brief."}],
        "toolConfig": {"tools": [WEATHER]},
    }
    c = client(srv)
    if streamed:
        events = list(c.converse_stream(**kwargs)["stream"])
        assert events[-1]["metadata"]["usage"]["outputTokens"] > 0
    else:
        c.converse(**kwargs)
    span = only(traced)
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "tu_1"
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    a = span.attributes
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS]) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": WEATHER["toolSpec"]["inputSchema"]["json"],
        }
    ]
    assert json.loads(a[A.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "tu_1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                }
            ],
            "finish_reason": "tool_call",
        }
    ]


def test_tool_call_arguments_absent_without_content(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    srv.enqueue(Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})))
    list(
        client(srv).converse_stream(modelId=NOVA, messages=USER, toolConfig={"tools": [WEATHER]})[
            "stream"
        ]
    )
    (event,) = [e for e in only(traced).events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_NAME] == "get_weather"
    assert A.GEN_AI_TOOL_CALL_ARGUMENTS not in event.attributes


def test_converse_stream_usage_and_ttft(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    srv.enqueue(Reply.text("one two three four", usage=Usage(50, 20, cached_tokens=10)))
    events = list(client(srv).converse_stream(modelId=NOVA, messages=USER)["stream"])
    assert len(events) > 5
    span = only(traced)
    a = span.attributes
    assert a[A.GEN_AI_REQUEST_STREAM] is True
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 50
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 10
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 20
    assert a[A.GEN_AI_USAGE_COST] > 0


@pytest.mark.parametrize("path", ["closed", "error", "abandoned"])
def test_stream_ends_its_span_on_every_path(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, path: str
) -> None:
    cut = 3 if path == "error" else None
    srv.enqueue(Reply(content="one two three four five six", cut_after_chunks=cut))
    c = client(srv)
    response = c.converse_stream(modelId=NOVA, messages=USER)
    stream = response["stream"]
    if path == "closed":
        next(iter(stream))
        stream.close()
        stream.close()
    elif path == "error":
        with pytest.raises(Exception):  # noqa: B017 - botocore's own transport error
            list(stream)
    else:
        next(iter(stream))
        del stream, response
        gc.collect()
    span = only(traced)
    assert span.attributes[A.AGENTEL_STREAM_END] == path
    if path == "error":
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[A.ERROR_TYPE]


def invoke(srv: ScriptedLLMServer, model: str, is_async: bool) -> bytes:
    """InvokeModel, then the application reads the whole body (aiobotocore's in chunks)."""
    body = json.dumps(BODIES[model])
    if not is_async:
        return client(srv).invoke_model(modelId=model, body=body)["body"].read()

    async def use(c: Any) -> bytes:
        response = await c.invoke_model(modelId=model, body=body)
        assert type(response["body"]).__module__.startswith("aiobotocore.")  # its own class
        async with response["body"] as read:
            return b"".join([chunk async for chunk in read.iter_chunks(7)])

    return aio_run(srv, use)


def invoke_stream(srv: ScriptedLLMServer, model: str, is_async: bool) -> list[Any]:
    """InvokeModelWithResponseStream, every chunk's JSON."""
    body = json.dumps(BODIES[model])
    if not is_async:
        response = client(srv).invoke_model_with_response_stream(modelId=model, body=body)
        return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]

    async def use(c: Any) -> list[Any]:
        response = await c.invoke_model_with_response_stream(modelId=model, body=body)
        return [json.loads(event["chunk"]["bytes"]) async for event in response["body"]]

    return aio_run(srv, use)


@pytest.mark.parametrize("is_async", [False, True], ids=["boto3", "aiobotocore"])
@pytest.mark.parametrize("model", list(BODIES))
def test_invoke_model_every_body_family(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, model: str, is_async: bool
) -> None:
    srv.enqueue(Reply.text("hello there", usage=Usage(input_tokens=40, output_tokens=7)))
    assert json.loads(invoke(srv, model, is_async))  # the application still reads it all
    a = only(traced).attributes
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 40
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 64
    assert a[A.GEN_AI_REQUEST_TEMPERATURE] == 0.5
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] in (("end_turn",), ("stop",))
    assert a[A.GEN_AI_USAGE_COST] > 0
    assert a[A.GEN_AI_RESPONSE_ID]


@pytest.mark.parametrize("is_async", [False, True], ids=["boto3", "aiobotocore"])
@pytest.mark.parametrize("model", list(BODIES))
def test_invoke_model_with_response_stream_every_body_family(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, model: str, is_async: bool
) -> None:
    srv.enqueue(Reply.text("one two three", usage=Usage(input_tokens=40, output_tokens=7)))
    assert len(invoke_stream(srv, model, is_async)) >= 3
    span = only(traced)
    a = span.attributes
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 40
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] in (("end_turn",), ("stop",))
    assert a[A.GEN_AI_USAGE_COST] > 0


def test_invoke_anthropic_cache_and_tool_use(instrument: Any, srv: ScriptedLLMServer) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}, id="toolu_1"),
            usage=Usage(input_tokens=500, output_tokens=30, cached_tokens=400),
        )
    )
    body = {
        **BODIES[CLAUDE],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    }
    client(srv).invoke_model(modelId=CLAUDE, body=json.dumps(body))
    span = only(traced)
    a = span.attributes
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 500
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 400
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert a[A.GEN_AI_RESPONSE_MODEL] == CLAUDE
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert event.attributes[A.GEN_AI_TOOL_CALL_ID] == "toolu_1"
    assert json.loads(a[A.GEN_AI_TOOL_DEFINITIONS])[0]["name"] == "get_weather"
    assert json.loads(a[A.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hi"}]}
    ]


def test_error_type_and_status(traced: InMemorySpanExporter, srv: ScriptedLLMServer) -> None:
    srv.enqueue(Reply.error(429, "slow down"))
    with pytest.raises(ClientError) as caught:
        client(srv).converse(modelId=NOVA, messages=USER)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    span = only(traced)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "botocore.errorfactory.ThrottlingException"


def test_retries_stay_inside_one_span(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    srv.enqueue(Reply.error(503, "busy"), Reply.text("ok", usage=Usage(20, 3)))
    response = client(srv, attempts=2).converse(modelId=NOVA, messages=USER)
    assert response["output"]["message"]["content"][0]["text"] == "ok"
    assert len(srv.requests) == 2
    span = only(traced)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 20


def test_other_aws_calls_pass_through(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=srv.url,
        aws_access_key_id="AKIDAGENTELTEST",
        aws_secret_access_key="not-a-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(Exception):  # noqa: B017 - the scripted server knows no STS
        sts.get_caller_identity()
    assert traced.get_finished_spans() == ()


def test_registered_for_zero_code_and_configure() -> None:
    from importlib.metadata import entry_points

    from agentel.sdk._configure import INSTRUMENTORS

    (ep,) = [
        e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "agentel_bedrock"
    ]
    assert ep.load() is BedrockInstrumentor
    assert INSTRUMENTORS["bedrock"] == ep.value


def test_imports_without_the_sdk() -> None:
    code = (
        "import sys\n"
        "sys.modules['botocore'] = None\n"
        "import agentel.instrumentation.bedrock as m, agentel.sdk\n"
        "assert m.BedrockInstrumentor\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


# --- aiobotocore (async) ---------------------------------------------------------------------


def test_aio_converse_tokens_cost_and_errors(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, cached_tokens=600, cache_write_tokens=200)
    srv.enqueue(Reply.text("hello", usage=usage), Reply.error(429, "slow down"))

    async def use(c: Any) -> Any:
        response = await c.converse(modelId=NOVA, messages=USER, inferenceConfig={"maxTokens": 9})
        with pytest.raises(ClientError):
            await c.converse(modelId=NOVA, messages=USER)
        return response

    response = aio_run(srv, use)
    ok, failed = traced.get_finished_spans()
    a = ok.attributes
    assert ok.name == f"chat {NOVA}" and ok.kind is SpanKind.CLIENT
    assert a[A.GEN_AI_PROVIDER_NAME] == "aws.bedrock"
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 1000
    assert a[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 600
    assert a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 100
    assert a[A.GEN_AI_REQUEST_MAX_TOKENS] == 9
    assert a[A.GEN_AI_RESPONSE_ID] == response["ResponseMetadata"]["RequestId"]
    assert a[A.GEN_AI_USAGE_COST] == pytest.approx((400 * 0.80 + 600 * 0.20 + 100 * 3.20) / 1e6)
    assert a[A.SERVER_PORT] == srv.port
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes[A.ERROR_TYPE] == "botocore.errorfactory.ThrottlingException"


def test_aio_converse_stream_tool_call_and_content(instrument: Any, srv: ScriptedLLMServer) -> None:
    traced = instrument(capture_content=True)
    srv.enqueue(
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"}, id="tu_1"), usage=Usage(30, 9))
    )

    async def use(c: Any) -> list[Any]:
        response = await c.converse_stream(
            modelId=CLAUDE, messages=USER, toolConfig={"tools": [WEATHER]}
        )
        return [event async for event in response["stream"]]

    events = aio_run(srv, use)
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 9
    span = only(traced)
    a = span.attributes
    assert a[A.AGENTEL_STREAM_END] == "completed"
    assert 0 < a[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert a[A.GEN_AI_USAGE_INPUT_TOKENS] == 30 and a[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert a[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    (event,) = [e for e in span.events if e.name == "agentel.tool_call"]
    assert json.loads(event.attributes[A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert json.loads(a[A.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["name"] == "get_weather"


@pytest.mark.parametrize("operation", ["converse_stream", "invoke_model_with_response_stream"])
@pytest.mark.parametrize("path", ["closed", "error", "abandoned", "break"])
def test_aio_streams_end_their_span_on_every_path(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, path: str, operation: str
) -> None:
    cut = 3 if path == "error" else None
    srv.enqueue(Reply(content="one two three four five six", cut_after_chunks=cut))

    async def use(c: Any) -> None:
        if operation == "converse_stream":
            response = await c.converse_stream(modelId=NOVA, messages=USER)
            key = "stream"
        else:
            body = json.dumps(BODIES[CLAUDE])
            response = await c.invoke_model_with_response_stream(modelId=CLAUDE, body=body)
            key = "body"
        stream = response[key]
        if path == "error":
            with pytest.raises(Exception):  # noqa: B017 - aiobotocore's own transport error
                async for _ in stream:
                    pass
            return
        async for _ in stream:
            break
        if path == "closed":
            stream.close()  # synchronous, as on AioEventStream itself
            stream.close()
        elif path == "abandoned":
            del stream, response
            gc.collect()

    aio_run(srv, use)
    gc.collect()  # "break": the stream is dropped when the client's block ends
    span = only(traced)
    assert span.attributes[A.AGENTEL_STREAM_END] == ("abandoned" if path == "break" else path)
    if path == "error":
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes[A.ERROR_TYPE]


def test_aio_retries_and_other_aws_calls(traced: InMemorySpanExporter, srv: ScriptedLLMServer):
    srv.enqueue(Reply.error(503, "busy"), Reply.text("ok", usage=Usage(20, 3)))

    async def use(c: Any) -> Any:
        return await c.converse(modelId=NOVA, messages=USER)

    assert aio_run(srv, use, attempts=2)["output"]["message"]["content"][0]["text"] == "ok"
    assert len(srv.requests) == 2
    span = only(traced)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 20


def test_aio_wrapped_on_first_import_and_unwrapped() -> None:
    code = (
        "import sys\n"
        "from agentel.instrumentation.bedrock import BedrockInstrumentor\n"
        "i = BedrockInstrumentor(); i.instrument()\n"
        "assert 'aiobotocore' not in sys.modules, 'imported by instrument()'\n"
        "import aiobotocore.client as ac, wrapt\n"
        "traced = lambda: isinstance(vars(ac.AioBaseClient)['_make_api_call'], wrapt.FunctionWrapper)\n"
        "assert traced()\n"
        "i.uninstrument()\n"
        "assert not traced()\n"
        "BedrockInstrumentor().instrument()\n"
        "assert traced()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_metrics(instrument: Any, metrics: Any, srv: ScriptedLLMServer) -> None:
    instrument(meter_provider=metrics.provider)
    srv.enqueue(
        Reply.text("a", usage=Usage(100, 20, cached_tokens=40)),
        Reply.error(400, "bad request"),
        Reply.text("b c d", usage=Usage(50, 10)),
    )
    c = client(srv)
    c.converse(modelId=NOVA, messages=USER)
    with pytest.raises(ClientError):
        c.converse(modelId=NOVA, messages=USER)

    async def use(aio: Any) -> None:  # aiobotocore records the same metrics
        response = await aio.converse_stream(modelId=NOVA, messages=USER)
        async for _ in response["stream"]:
            pass

    aio_run(srv, use)
    assert metrics.summary() == {
        "tokens": {"input": 150, "output": 30},
        "calls": {None: 2, "botocore.errorfactory.ValidationException": 1},
        "first_chunks": 1,
        "operations": {"chat"},
        "providers": {"aws.bedrock"},
        "models": {NOVA},
        "servers": {("127.0.0.1", srv.port)},
        "cost": True,
    }


@pytest.mark.parametrize("model", [NOVA, *BODIES])
def test_time_to_first_chunk_is_at_the_first_output_delta(
    traced: InMemorySpanExporter, srv: ScriptedLLMServer, model: str
) -> None:
    """The opening events (messageStart, message_start, contentBlockStart) arrive at once; the
    first text delta comes DELAY later: TTFT is measured there, as for the other providers."""
    delay = 0.3
    srv.enqueue(Reply.text("one two three", usage=Usage(40, 7), first_delta_delay=delay))
    if model == NOVA:
        assert list(client(srv).converse_stream(modelId=model, messages=USER)["stream"])
    else:
        assert invoke_stream(srv, model, is_async=False)
    span = only(traced)
    ttft = span.attributes[A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert delay <= ttft <= (span.end_time - span.start_time) / 1e9
