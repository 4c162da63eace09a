"""A call that fails before the model generates anything (a 429, a 400) costs a known $0:
the real SDKs over HTTP against the scripted server, stored through the SQLite exporter."""

from __future__ import annotations

from pathlib import Path

import anthropic
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.instrumentation.anthropic import AnthropicInstrumentor
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.store import open_store
from agentel.testing import Reply, ScriptedLLMServer

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("status", [429, 400])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_failed_call_without_usage_is_priced_at_zero(tmp_path: Path, sdk: str, status: int):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(url)))
    instrumentor = OpenAIInstrumentor() if sdk == "openai" else AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with ScriptedLLMServer() as srv:
            srv.enqueue(Reply.error(status))
            with pytest.raises((openai.APIStatusError, anthropic.APIStatusError)):
                if sdk == "openai":
                    client = openai.OpenAI(base_url=srv.openai_base_url, api_key="t", max_retries=0)
                    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
                else:
                    claude = anthropic.Anthropic(
                        base_url=srv.anthropic_base_url, api_key="t", max_retries=0,
                        open_telemetry=False,
                    )  # fmt: skip
                    claude.messages.create(
                        model="claude-haiku-4-5", max_tokens=8, messages=MESSAGES
                    )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    with open_store(url) as store:
        (run,) = store.runs()
        (span,) = store.spans()
    assert (run["cost_usd"], run["unpriced_calls"], run["errors"]) == (0, 0, 1)
    assert (span["status"], span["cost_usd"], span["cost_source"]) == ("error", 0, "no_usage")
