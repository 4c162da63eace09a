"""No double counting with every instrumentor on: a framework or router calling a provider SDK
records one model call once in the run's totals (at the outermost of its nested usage spans).

LangChain (``langchain-google-genai``'s ``ChatGoogleGenerativeAI``) -> ``google-genai``, and
LiteLLM -> OpenAI (LiteLLM calls the ``openai`` client for OpenAI models)."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map fetch at import

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_google_genai import ChatGoogleGenerativeAI
from opentelemetry import trace
from runtree import shape, tree

from agentel.instrumentation import agent
from agentel.sdk._configure import INSTRUMENTORS, _load
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, Usage

MESSAGES = [{"role": "user", "content": "Say hello in French"}]


@pytest.fixture
def every_instrumentor(fanout) -> Iterator[list[Any]]:
    """Every instrumentor ``configure(instrument="all")`` knows, on the global provider."""
    on = []
    for path in INSTRUMENTORS.values():
        instrumentor = _load(path)()
        instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
        if instrumentor.is_instrumented_by_opentelemetry:
            on.append(instrumentor)
    try:
        yield on
    finally:
        for instrumentor in on:
            instrumentor.uninstrument()


def test_langchain_over_google_genai_counts_each_call_once(every_instrumentor, sqlite_recording):
    assert {type(i).__name__ for i in every_instrumentor} >= {
        "LangChainInstrumentor",
        "GoogleGenAIInstrumentor",
    }
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.text("Bonjour", usage=Usage(input_tokens=40, output_tokens=6)),
            Reply.text("Salut", usage=Usage(input_tokens=60, output_tokens=4, reasoning_tokens=2)),
        )
        model = ChatGoogleGenerativeAI(
            model="gemini-2.5-flash", google_api_key="test", base_url=server.url, max_retries=1
        )
        with agent("translator"):
            model.invoke("Say hello in French")
            list(model.stream("Say hi in French"))

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = store.spans()
    assert run["llm_calls"] == 2
    assert (run["input_tokens"], run["output_tokens"]) == (100, 10)
    assert run["cost_usd"] == pytest.approx((100 * 0.30 + 10 * 2.50) / 1e6)
    assert shape(root) == tree(
        "invoke_agent translator",
        tree("chat gemini-2.5-flash", tree("generate_content gemini-2.5-flash")),
        tree("chat gemini-2.5-flash", tree("generate_content gemini-2.5-flash")),
    )
    counted = [s for s in spans if s["counted"]]
    assert [s["name"] for s in counted] == ["chat gemini-2.5-flash"] * 2
    assert [s["attributes"].get(A.AGENTEL_FRAMEWORK) for s in counted] == ["langchain"] * 2


def test_litellm_over_openai_counts_each_call_once(every_instrumentor, sqlite_recording):
    import litellm

    assert {type(i).__name__ for i in every_instrumentor} >= {
        "LiteLLMInstrumentor",
        "OpenAIInstrumentor",
    }
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.text("Bonjour", usage=Usage(input_tokens=40, output_tokens=6)),
            Reply.text("Salut", usage=Usage(input_tokens=60, output_tokens=4)),
        )
        route = {"api_base": server.openai_base_url, "api_key": "test"}
        with agent("translator"):
            litellm.completion(model="openai/gpt-4o-mini", messages=MESSAGES, **route)
            chunks = litellm.completion(
                model="gpt-4o-mini",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
                **route,
            )
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        spans = store.spans()
    assert run["llm_calls"] == 2
    assert (run["input_tokens"], run["output_tokens"]) == (100, 10)
    assert run["cost_usd"] == pytest.approx((100 * 0.15 + 10 * 0.60) / 1e6)
    counted = [s for s in spans if s["counted"]]
    assert len(counted) == 2
    assert {s["provider"] for s in counted} == {"openai"}
