"""The whole path: the weather agent on the real openai SDK -> spans -> SQLite -> query API."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import openai
import pytest

from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage

ROOT = Path(__file__).resolve().parents[1]

# gpt-4o-mini list prices, USD per 1M tokens: input 0.15, cached input 0.075, output 0.60
IN, CACHED, OUT = 0.15e-6, 0.075e-6, 0.60e-6


@pytest.fixture(scope="module")
def weather():
    spec = importlib.util.spec_from_file_location(
        "weather_agent", ROOT / "examples/weather_agent.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def instrumented(fanout):
    from opentelemetry import trace

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    yield
    instrumentor.uninstrument()


def test_demo_like_run_stores_exact_tokens_and_cost(weather, instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.tool_calls(
                ToolCall("get_weather", {"city": "Paris"}),
                usage=Usage(input_tokens=120, output_tokens=18),
            ),
            Reply.text(
                "It is 14°C with light rain in Paris.",
                usage=Usage(input_tokens=180, output_tokens=25, cached_tokens=100),
            ),
        )
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
        answer = weather.run_agent(client, "What's the weather in Paris?")
    assert "Paris" in answer

    with sqlite_recording.open() as store:
        (run,) = store.runs()
        assert run["agent_name"] == "weather-agent"
        assert run["status"] == "ok"
        assert (run["llm_calls"], run["tool_calls"], run["errors"]) == (2, 1, 0)
        assert (run["input_tokens"], run["output_tokens"], run["cache_read_tokens"]) == (
            300,
            43,
            100,
        )
        expected = (120 * IN + 18 * OUT) + ((180 - 100) * IN + 100 * CACHED + 25 * OUT)
        assert run["cost_usd"] == pytest.approx(expected, rel=1e-9)
        assert run["unpriced_calls"] == 0

        (root,) = store.run_tree(run["run_id"][:8])
        assert root["name"] == "invoke_agent weather-agent"
        assert [c["name"] for c in root["children"]] == [
            "chat gpt-4o-mini",
            "execute_tool get_weather",
            "chat gpt-4o-mini",
        ]
        tool_span = root["children"][1]
        assert tool_span["tool_call_id"] is not None
        assert all(s["run_id"] == run["run_id"] for s in store.spans(run_id=run["run_id"]))


def test_failed_llm_call_is_an_error_span_and_run(weather, instrumented, sqlite_recording):
    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(Reply.error(status=500, message="upstream exploded"))
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
        with pytest.raises(openai.InternalServerError):
            weather.run_agent(client, "What's the weather in Paris?")
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        assert run["status"] == "error" and run["errors"] == 2
        (root,) = store.run_tree(run["run_id"])
        (llm_span,) = root["children"]
        assert llm_span["status"] == "error"
        assert llm_span["error_type"] == "openai.InternalServerError"


def test_a_dated_response_model_is_found_by_its_family(instrumented, sqlite_recording):
    """The real API answers gpt-4o-mini with gpt-4o-mini-2024-07-18: filters, --where and
    stats still find the call by the model asked for, and never under gpt-4o."""
    from click.testing import CliRunner

    from agentel.cli.main import main

    with ScriptedLLMServer(auto=False) as server:
        server.enqueue(
            Reply.text(
                "hi", model="gpt-4o-mini-2024-07-18", usage=Usage(input_tokens=10, output_tokens=5)
            ),
        )
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert reply.model == "gpt-4o-mini-2024-07-18"
    with sqlite_recording.open() as store:
        (run,) = store.runs(model="gpt-4o-mini")
        assert run["models"] == ["gpt-4o-mini-2024-07-18"]
        assert run["cost_usd"] == pytest.approx(10 * IN + 5 * OUT, rel=1e-9)
        assert store.runs(model="gpt-4o") == []
        assert store.runs(where="model == 'gpt-4o-mini'") == [run]
        assert [r["group"] for r in store.stats("model")] == ["gpt-4o-mini"]
        assert [r["group"] for r in store.stats("response_model")] == ["gpt-4o-mini-2024-07-18"]
    cli = CliRunner()
    found = cli.invoke(
        main,
        ["runs", "--store", sqlite_recording.url, "--model", "gpt-4o-mini", "--format", "json"],
    )
    assert found.exit_code == 0, found.output
    assert [r["run_id"] for r in json.loads(found.output)] == [run["run_id"]]
    bad = cli.invoke(
        main, ["runs", "--store", sqlite_recording.url, "--where", "model_name == 'x'"]
    )
    assert bad.exit_code == 2
    assert "unknown field 'model_name'" in bad.output and "models" in bad.output
