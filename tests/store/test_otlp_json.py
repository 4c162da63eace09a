"""OTLP/JSON decoding and encoding against spans made by the real OTel SDK and its encoder."""

from __future__ import annotations

import json

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentel.exporters._convert import record_from_span
from agentel.store import otlp_json


def sdk_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test.scope")
    with (
        tracer.start_as_current_span(
            "invoke_agent bot", attributes={"gen_ai.operation.name": "invoke_agent"}
        ),
        tracer.start_as_current_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 50,
                "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.request.temperature": 0.5,
                "flag": True,
            },
        ) as span,
    ):
        span.add_event("agentel.plan", {"steps": 3})
        span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return exporter.get_finished_spans()


def comparable(records):
    return sorted((r.to_dict() for r in records), key=lambda d: d["span_id"])


def test_protobuf_json_from_the_real_encoder_decodes_to_the_same_records():
    spans = sdk_spans()
    document = MessageToDict(encode_spans(spans))  # protobuf JSON mapping: base64 ids
    records, errors = otlp_json.decode(json.loads(json.dumps(document)))
    assert errors == []
    assert comparable(records) == comparable(record_from_span(s) for s in spans)
    chat = next(r for r in records if r.name == "chat gpt-4o")
    assert (chat.kind, chat.status, chat.status_message) == ("client", "error", "boom")
    assert chat.cost_usd is not None and chat.service_name == "svc" and chat.scope == "test.scope"


def test_encode_then_decode_round_trips():
    records = [record_from_span(s) for s in sdk_spans()]
    document = json.loads(json.dumps(otlp_json.encode(records)))
    assert (
        document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == records[0].trace_id
    )
    again, errors = otlp_json.decode(document)
    assert errors == [] and comparable(again) == comparable(records)


def test_bad_spans_are_reported_one_by_one_and_the_rest_kept():
    good = {"traceId": "a" * 32, "spanId": "b" * 16, "name": "ok", "startTimeUnixNano": "5"}
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            good,
                            {**good, "name": "short id", "spanId": "abc"},
                            {**good, "name": "zero", "traceId": "0" * 32},
                            {**good, "name": "bad time", "startTimeUnixNano": "soon"},
                        ]
                    }
                ]
            }
        ]
    }
    records, errors = otlp_json.decode(document)
    assert [r.name for r in records] == ["ok"]
    assert len(errors) == 3
    assert "'abc' is not 16 hex digits" in errors[0]
    assert "all zeros" in errors[1] and "'soon'" in errors[2]
    assert otlp_json.decode([1, 2])[1] == ["expected a JSON object with resourceSpans, got list"]
