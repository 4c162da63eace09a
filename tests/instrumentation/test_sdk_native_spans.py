"""SDKs that trace themselves: the anthropic SDK (2.x) opens its own GenAI span,
``anthropic.messages.create``, inside agentel's ``chat`` span. With that tracing on or off the
store must show the same call once, with the same tokens and cost to the unit.

The anthropic SDK traces by default when an OpenTelemetry tracer provider is set; a client's
``open_telemetry=False`` (or ``ANTHROPIC_OPEN_TELEMETRY=false``) switches it off. The
``openai`` SDK installed here (3.x) opens no spans of its own; OpenAI calls traced twice (ours
and another instrumentation) are covered in tests/semconv/test_foreign_instrumentations.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.store import open_store
from agentel.testing import Reply, ScriptedLLMServer, Usage

MODEL = "claude-haiku-4-5"
USAGE = Usage(input_tokens=1000, output_tokens=50, cached_tokens=600, cache_write_tokens=300)
# claude-haiku-4-5 per 1M: input 1.00, cache read 0.10, cache write 1.25, output 5.00
# 100 * 1.00 + 600 * 0.10 + 300 * 1.25 + 50 * 5.00 = 100 + 60 + 375 + 250 = 785 -> $0.000785
COST = 0.000785
TOKENS = {
    "input_tokens": 1000,
    "output_tokens": 50,
    "cache_read_tokens": 600,
    "cache_write_tokens": 300,
    "reasoning_tokens": 0,
}


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[tuple[str, TracerProvider]]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(url)))
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield url, provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("native", [True, False], ids=["sdk-tracing-on", "sdk-tracing-off"])
def test_anthropic_call_is_counted_once_with_exact_cache_writes(
    recording: tuple[str, TracerProvider], native: bool, stream: bool
) -> None:
    url, provider = recording
    option: Any = {"tracer_provider": provider} if native else False
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.text("hello", usage=USAGE))
        client = anthropic.Anthropic(
            base_url=srv.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=option
        )
        kwargs = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            with client.messages.stream(**kwargs) as events:
                events.get_final_message()
        else:
            client.messages.create(**kwargs)
    with open_store(url) as store:
        (run,) = store.runs()
        spans = store.spans()
        replay = store.replay(run["run_id"], types=["llm_request", "llm_response"])
        tree = store.run_tree(run["run_id"])
    names = sorted(s["name"] for s in spans)
    expected = ["anthropic.messages.create", f"chat {MODEL}"] if native else [f"chat {MODEL}"]
    assert names == expected
    assert {t: run[t] for t in TOKENS} == TOKENS
    assert run["cost_usd"] == pytest.approx(COST, abs=1e-12)
    assert (run["llm_calls"], run["unpriced_calls"], run["models"]) == (1, 0, [MODEL])
    (counted,) = [s for s in spans if s["counted"]]
    assert counted["name"] == f"chat {MODEL}" and counted["cost_usd"] == pytest.approx(COST)
    assert [e["type"] for e in replay] == ["llm_request", "llm_response"]
    assert {t: replay[1]["data"][t] for t in TOKENS if t != "reasoning_tokens"} == {
        t: v for t, v in TOKENS.items() if t != "reasoning_tokens"
    }
    assert tree[0]["name"] == f"chat {MODEL}"
    if native:  # the SDK's span sits inside ours and reports the same usage
        (inner,) = tree[0]["children"]
        assert inner["cache_write_tokens"] == 300 and inner["input_tokens"] == 1000
