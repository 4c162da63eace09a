"""The per-call fast paths of provider instrumentation give the same spans as the slow ones."""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentel.instrumentation._call import ProviderCall
from agentel.instrumentation._common import Usage, clean_attributes, server_attributes
from agentel.instrumentation._config import InstrumentationConfig
from agentel.instrumentation._metrics import GenAIMetrics
from agentel.instrumentation._wrappers import start_llm_span, sync_llm_wrapper
from agentel.instrumentation.openai import _chat
from agentel.semconv import attributes as A


class Resource:
    """What the chat extractor reads from ``self``: the client's base URL."""

    def __init__(self, url: str) -> None:
        self._client = type("Client", (), {"base_url": httpx2.URL(url)})()


def test_response_usage_and_cost_are_set_together_at_the_end(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = local_provider
    request = _chat.chat_request(
        None, Resource("https://api.openai.com/v1/"), (), {"model": "gpt-4o-mini"}
    )
    assert request is not None
    call, _ = start_llm_span(provider.get_tracer("t"), request)
    call.chunk_received()
    call.set_response(model="gpt-4o-mini-2024-07-18", id="r-1", finish_reasons=["stop", None])
    call.set_usage(input_tokens=1000, output_tokens=10.0, reasoning_tokens=True)
    call.set_attribute(A.OPENAI_RESPONSE_SERVICE_TIER, "default")
    live = call.span.attributes
    # the first chunk is visible at once; the response is held for the single call at the end
    assert A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in live
    assert A.GEN_AI_RESPONSE_ID not in live and A.GEN_AI_USAGE_INPUT_TOKENS not in live
    call.end()
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes)
    assert attrs[A.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[A.GEN_AI_RESPONSE_ID] == "r-1"
    assert attrs[A.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert (attrs[A.GEN_AI_USAGE_INPUT_TOKENS], attrs[A.GEN_AI_USAGE_OUTPUT_TOKENS]) == (1000, 10)
    assert A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS not in attrs  # a bool is not a count
    assert attrs[A.OPENAI_RESPONSE_SERVICE_TIER] == "default"
    assert attrs[A.GEN_AI_USAGE_COST] == pytest.approx(call.cost_usd) and call.cost_usd > 0
    assert attrs[A.AGENTEL_COST_SOURCE] == "catalog"
    # nothing is set once the span has ended
    call.set_attribute("late", 1)
    call.set_usage(input_tokens=1)
    assert "late" not in span.attributes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": "gpt-4o", "temperature": None, "top_p": "0.5", "seed": True, "n": 1},
        {"model": "", "temperature": openai.NOT_GIVEN, "stop": ["a", 1], "stream": "yes"},
        {"model": 3, "max_tokens": 2.5, "response_format": {"type": "json_schema"}},
        {"model": "m", "stop": "END", "max_completion_tokens": 9, "max_tokens": 3, "n": 2},
        {"model": "m", "frequency_penalty": 0, "presence_penalty": -1.5, "service_tier": "flex"},
        {},
    ],
)
def test_chat_request_attributes_need_no_cleaning(kwargs: dict[str, Any]) -> None:
    request = _chat.chat_request(None, Resource("http://localhost:8080/v1"), (), kwargs)
    assert request is not None and request.clean
    assert dict(request.attributes) == clean_attributes(request.attributes)
    assert None not in request.attributes.values()
    assert request.attributes[A.SERVER_PORT] == 8080


def test_server_attributes_are_read_once_per_url_object() -> None:
    a, b = httpx2.URL("https://api.openai.com/v1/"), httpx2.URL("http://10.0.0.2:8000/")
    first = server_attributes(a)
    assert dict(first) == {A.SERVER_ADDRESS: "api.openai.com", A.SERVER_PORT: 443}
    assert server_attributes(a) is first
    assert isinstance(first, tuple)  # shared between calls, so immutable
    assert dict(server_attributes(b)) == {A.SERVER_ADDRESS: "10.0.0.2", A.SERVER_PORT: 8000}
    assert dict(server_attributes("https://example.com/x")) == {
        A.SERVER_ADDRESS: "example.com",
        A.SERVER_PORT: 443,
    }


def test_metrics_are_skipped_only_while_they_record_nothing() -> None:
    assert not GenAIMetrics(NoOpMeterProvider()).enabled
    assert GenAIMetrics(MeterProvider()).enabled


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Usage)])
def test_usage_is_empty_looks_at_every_count(name: str) -> None:
    assert Usage().is_empty()
    assert not Usage(**{name: 0}).is_empty()


def test_provider_call_without_usage_sets_no_cost(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = local_provider
    span = provider.get_tracer("t").start_span("chat m")
    call = ProviderCall(
        span,
        model="gpt-4o",
        provider="openai",
        config=InstrumentationConfig(),
        metrics=GenAIMetrics(MeterProvider()),
        attributes={},
    )
    call.set_response(id="x")
    call.end(ValueError("boom"))
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes[A.GEN_AI_RESPONSE_ID] == "x"
    assert finished.attributes[A.ERROR_TYPE] == "ValueError"
    assert A.GEN_AI_USAGE_COST not in finished.attributes


def test_provider_call_sets_every_slot_of_the_handle_classes_it_extends(
    local_provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    # ProviderCall.__init__ sets its bases' slots itself (it runs once per LLM call), so a
    # slot added to SpanHandle or LLMHandle must be added there too
    provider, _ = local_provider
    span = provider.get_tracer("t").start_span("chat m")
    call = ProviderCall(
        span, model="m", provider="p", config=InstrumentationConfig(), metrics=None, attributes={}
    )
    slots = [s for cls in type(call).__mro__ for s in getattr(cls, "__slots__", ())]
    assert len(slots) > 10
    assert [s for s in slots if not hasattr(call, s)] == []
    call.end()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_completion_tokens": 9, "max_tokens": 3},
        {"max_tokens": 3, "max_completion_tokens": 9},
        {"max_tokens": 3, "max_completion_tokens": 9.5, "_expect": 3},
    ],
)
def test_max_completion_tokens_wins_over_max_tokens_in_any_order(kwargs: dict[str, Any]) -> None:
    expect = kwargs.pop("_expect", 9)
    request = _chat.chat_request(
        None, Resource("https://api.openai.com/v1/"), (), {"model": "m", **kwargs}
    )
    assert request is not None
    assert request.attributes[A.GEN_AI_REQUEST_MAX_TOKENS] == expect


def test_default_choice_count_and_service_tier_are_not_recorded() -> None:
    def attrs(**kwargs: Any) -> dict[str, Any]:
        request = _chat.chat_request(None, Resource("https://api.openai.com/v1/"), (), kwargs)
        assert request is not None
        return dict(request.attributes)

    assert A.GEN_AI_REQUEST_CHOICE_COUNT not in attrs(model="m", n=1, service_tier="auto")
    assert A.OPENAI_REQUEST_SERVICE_TIER not in attrs(model="m", n=1, service_tier="auto")
    both = attrs(model="m", n=3, service_tier="flex")
    assert (both[A.GEN_AI_REQUEST_CHOICE_COUNT], both[A.OPENAI_REQUEST_SERVICE_TIER]) == (3, "flex")


@pytest.mark.parametrize("key", [_SUPPRESS_INSTRUMENTATION_KEY, "suppress_instrumentation"])
def test_wrapper_reads_both_suppression_keys_from_the_context_it_fetches(
    local_provider: tuple[TracerProvider, InMemorySpanExporter], key: str
) -> None:
    provider, exporter = local_provider
    tracer = provider.get_tracer("t")
    wrapper = sync_llm_wrapper(
        tracer, partial(_chat.chat_request, None), _chat.handle_response, site="t"
    )
    kwargs = {"model": "gpt-4o-mini"}
    resource = Resource("https://api.openai.com/v1/")
    token = context.attach(context.set_value(key, True))
    try:
        assert wrapper(lambda **_: "ok", resource, (), kwargs) == "ok"
    finally:
        context.detach(token)
    assert exporter.get_finished_spans() == ()
    # unsuppressed, the span is a child of the span current at the call (context handed on)
    with tracer.start_as_current_span("parent") as parent:
        assert wrapper(lambda **_: "ok", resource, (), kwargs) == "ok"
    chat, outer = exporter.get_finished_spans()
    assert chat.parent is not None
    assert chat.parent.span_id == parent.get_span_context().span_id == outer.context.span_id
