"""Store.diff on every backend, over runs the real weather agent recorded through the real
openai SDK against the scripted server, with content capture on."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from agentel.exporters._convert import record_from_span
from agentel.instrumentation.openai import OpenAIInstrumentor
from agentel.store import Store
from agentel.testing import Reply, ScriptedLLMServer, ToolCall

ROOT = Path(__file__).resolve().parents[2]


def _weather():
    spec = importlib.util.spec_from_file_location(
        "weather_for_diff", ROOT / "examples" / "weather_agent.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WEATHER = _weather()


@pytest.fixture
def record(memory_spans, store: Store) -> Callable[..., str]:
    """``record(question, *replies)`` runs the weather agent once into ``store``; returns the
    run id. Without replies the scripted server's AUTO policy answers."""
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(capture_content=True)

    def run(question: str, *replies: Reply) -> str:
        memory_spans.clear()
        with ScriptedLLMServer(replies) as server:
            client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
            WEATHER.run_agent(client, question)
        store.ingest([record_from_span(span) for span in memory_spans.get_finished_spans()])
        (top,) = [s for s in memory_spans.get_finished_spans() if s.parent is None]
        return format(top.context.trace_id, "032x") + format(top.context.span_id, "016x")

    yield run
    instrumentor.uninstrument()


def test_same_behaviour_is_same_and_steps_line_up(record, store):
    first = record("What's the weather in Paris?")
    second = record("What's the weather in Paris?")
    found = store.diff(first[:10], second)
    assert found["same"] is True and found["content"] is True
    assert (found["run_a"]["run_id"], found["run_b"]["run_id"]) == (first, second)
    assert [(s["status"], s["a"]["kind"], s["b"]["kind"]) for s in found["steps"]] == [
        ("same", "llm", "llm"),
        ("same", "tool", "tool"),
        ("same", "llm", "llm"),
    ]
    call, tool, answer = found["steps"]
    assert call["a"]["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert tool["a"]["tool_name"] == "get_weather"
    assert tool["a"]["arguments"] == {"city": "Paris"}
    assert tool["a"]["output"] == {"city": "Paris", "temp_c": 14, "sky": "light rain"}
    assert answer["a"]["output"].startswith("Here is what I found:")
    assert call["a"]["model"] == "gpt-4o-mini" and call["a"]["input_tokens"] == 84
    assert call["deltas"]["input_tokens"] == 0 and call["differences"] == []
    totals = found["totals"]
    assert totals["llm_calls"] == {"a": 2, "b": 2, "delta": 0}
    assert totals["input_tokens"]["delta"] == 0
    assert totals["duration_ms"]["delta"] == pytest.approx(
        totals["duration_ms"]["b"] - totals["duration_ms"]["a"]
    )


def test_other_arguments_and_results_are_changed_steps(record, store):
    paris = record("What's the weather in Paris?")
    tokyo = record("What's the weather in Tokyo?")
    found = store.diff(paris, tokyo)
    assert found["same"] is False
    assert [s["status"] for s in found["steps"]] == ["changed", "changed", "changed"]
    call, tool, answer = found["steps"]
    assert call["differences"] == [
        {
            "field": "tool_calls",
            "a": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
            "b": [{"name": "get_weather", "arguments": {"city": "Tokyo"}}],
        }
    ]
    assert [d["field"] for d in tool["differences"]] == ["arguments", "output"]
    assert [d["field"] for d in answer["differences"]] == ["output"]
    assert call["deltas"]["input_tokens"] == 0  # same length prompts: tokens never diverge


def test_missing_and_extra_steps_are_removed_and_added(record, store):
    direct = record("Paris?", Reply.text("It rains in Paris."))
    two_tools = record(
        "Paris?",
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
        Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
        Reply.text("It rains in Paris."),
    )
    found = store.diff(direct, two_tools)
    assert found["same"] is False
    assert [s["status"] for s in found["steps"]] == ["changed", "added", "added", "added", "added"]
    assert found["steps"][0]["differences"][0]["field"] == "tool_calls"
    assert found["steps"][1]["a"] is None and found["steps"][1]["b"]["kind"] == "tool"
    back = store.diff(two_tools, direct)
    assert [s["status"] for s in back["steps"]].count("removed") == 4
    assert back["totals"]["tool_calls"] == {"a": 2, "b": 0, "delta": -2}


def test_a_different_answer_text_is_a_divergence(record, store):
    ok = record("Paris?", Reply.text("Sunny."))
    again = record("Paris?", Reply.text("Sunny."))
    assert store.diff(ok, again)["same"] is True
    assert store.diff(ok, ok)["same"] is True
    changed = record("Paris?", Reply.text("Sunny!"))
    found = store.diff(ok, changed)
    assert found["steps"][0]["differences"] == [{"field": "output", "a": "Sunny.", "b": "Sunny!"}]


def test_a_tool_call_told_by_nested_spans_is_one_step(store):
    from tests.store.store_helpers import agent_run, rec

    def with_server_span(prefix: str, trace: str) -> list:
        spans = agent_run(prefix, trace_id=trace)
        tool = spans[2]
        inner = rec(
            "4" * 16,
            tool.span_id,
            start=112,
            end=118,
            trace_id=trace,
            **{
                "agentel.run.id": prefix * 16,
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
            },
        )
        return [*spans, inner]

    store.ingest(with_server_span("a", "ab" * 16))
    store.ingest(agent_run("b", trace_id="cd" * 16))
    found = store.diff("ab" * 16 + "a" * 16, "cd" * 16 + "b" * 16)
    assert [s["a"]["kind"] for s in found["steps"]] == ["llm", "tool", "llm"]
    assert found["same"] is True and found["totals"]["tool_calls"]["delta"] == 0
