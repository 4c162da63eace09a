"""The rest of the manual API, checked through the real exporter and SQLite store: generator
output capture, child agents, iteration(), events, set_model/set_usage and feedback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from agentel.instrumentation import (
    agent,
    iteration,
    llm,
    record_event,
    set_model,
    set_usage,
    tool,
)
from agentel.semconv import attributes as A
from agentel.semconv.pricing import default_pricebook
from agentel.store import NotFoundError


def stored(recording) -> tuple[list[dict], list[dict]]:
    with recording.open() as store:
        runs = store.runs()
        spans = store.spans()
    return runs, spans


def named(spans: list[dict]) -> dict[str, dict]:
    out = {s["name"]: s for s in spans}
    assert len(out) == len(spans), [s["name"] for s in spans]
    return out


# --- decorated generators record their output when content capture is on --------------------


@pytest.fixture
def capture_on(monkeypatch):
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "true")
    monkeypatch.setenv(A.ENV_MAX_CONTENT_CHARS, "12")


def test_generator_output_is_collected_and_capped(
    capture_on, monkeypatch, sqlite_recording
) -> None:
    @tool("stream_words")
    def words():
        yield from ["alpha ", "beta ", "gamma ", "delta ", "epsilon"]

    @agent("streamer")
    async def stream_answer():
        for part in ("Hello", ", ", "world"):
            yield part

    async def consume() -> list[str]:
        return [part async for part in stream_answer()]

    assert list(words()) == ["alpha ", "beta ", "gamma ", "delta ", "epsilon"]
    monkeypatch.setenv(A.ENV_MAX_CONTENT_CHARS, "200")  # read at each call
    assert asyncio.run(consume()) == ["Hello", ", ", "world"]

    _, spans = stored(sqlite_recording)
    by_name = named(spans)
    result = by_name["execute_tool stream_words"]["attributes"][A.GEN_AI_TOOL_CALL_RESULT]
    assert result == "alpha beta g...[agentel: truncated 5 chars]"  # of what was collected
    messages = json.loads(by_name["invoke_agent streamer"]["attributes"][A.GEN_AI_OUTPUT_MESSAGES])
    assert messages == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello, world"}]}
    ]


def test_function_output_is_json_and_off_by_default(monkeypatch, sqlite_recording) -> None:
    @tool
    def lookup(city: str) -> dict:
        return {"city": city, "temp_c": 14}

    monkeypatch.delenv(A.ENV_CAPTURE_CONTENT, raising=False)
    lookup("Paris")
    monkeypatch.setenv(A.ENV_CAPTURE_CONTENT, "true")
    lookup("Oslo")

    _, spans = stored(sqlite_recording)
    results = [s["attributes"].get(A.GEN_AI_TOOL_CALL_RESULT) for s in spans]
    assert results == [None, '{"city": "Oslo", "temp_c": 14}']


# --- child agents, iterations, events ----------------------------------------------------------


def test_child_agent_stays_in_the_outer_run(sqlite_recording) -> None:
    with agent("planner"):
        with agent("researcher"), llm("gpt-4o-mini", "openai"):
            set_usage(input_tokens=100, output_tokens=10)
        with tool("search"):
            pass

    runs, spans = stored(sqlite_recording)
    (run,) = runs
    by_name = named(spans)
    outer, child = by_name["invoke_agent planner"], by_name["invoke_agent researcher"]
    assert run["run_id"] == outer["trace_id"] + outer["span_id"] and run["agent_name"] == "planner"
    assert child["parent_span_id"] == outer["span_id"]
    assert {s["run_id"] for s in spans} == {run["run_id"]}
    assert (run["llm_calls"], run["tool_calls"], run["input_tokens"]) == (1, 1, 100)


def test_iterations_are_marked_and_counted(sqlite_recording) -> None:
    with agent("looper"):
        for _ in range(3):
            with iteration() as it:
                with llm("gpt-4o-mini", "openai"):
                    set_usage(input_tokens=10, output_tokens=1)
                with llm("gpt-4o-mini", "openai"):  # two LLM calls per pass
                    set_usage(input_tokens=10, output_tokens=1)
                if it.index == 1:
                    with agent("helper"):  # a child agent's own loop is not the run's
                        for _ in range(5):
                            with iteration(), tool("think"):
                                pass

    runs, spans = stored(sqlite_recording)
    (run,) = runs
    assert run["llm_calls"] == 6
    assert run["iterations"] == 3
    root = next(s for s in spans if s["name"] == "invoke_agent looper")
    helper = next(s for s in spans if s["name"] == "invoke_agent helper")
    assert root["attributes"][A.AGENTEL_RUN_ITERATIONS] == 3
    assert helper["attributes"][A.AGENTEL_RUN_ITERATIONS] == 5
    assert helper["iteration"] == 1
    chats = [s["iteration"] for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert chats == [0, 0, 1, 1, 2, 2]
    thinks = [s["iteration"] for s in spans if s["name"] == "execute_tool think"]
    assert thinks == [0, 1, 2, 3, 4]


def test_iteration_index_reaches_spans_of_other_instrumentations(sqlite_recording) -> None:
    from opentelemetry import trace

    foreign = trace.get_tracer("some.other.library")
    with agent("mixed"), iteration(index=7):
        foreign.start_span("GET /weather").end()

    _, spans = stored(sqlite_recording)
    assert named(spans)["GET /weather"]["attributes"][A.AGENTEL_ITERATION] == 7


def test_documented_events(sqlite_recording) -> None:
    with agent("planner"):
        record_event("plan", steps=["search", "answer"])
        record_event("state_update", key="city", value="Paris")
        record_event("custom", note="anything")

    _, spans = stored(sqlite_recording)
    (span,) = spans
    events = {e["name"]: e["attributes"] for e in span["events"]}
    assert events == {
        A.EVENT_PLAN: {"steps": ["search", "answer"]},
        A.EVENT_STATE_UPDATE: {"key": "city", "value": "Paris"},
        A.EVENT_CUSTOM: {"note": "anything"},
    }


@pytest.mark.swallows("set_model")
def test_set_model_and_usage_for_a_hand_written_client(sqlite_recording) -> None:
    with agent("manual"), llm(None, "openai") as call:
        assert set_model("gpt-4o-mini")
        assert set_usage(input_tokens=1000, output_tokens=100)
        assert call.request_model == "gpt-4o-mini"
    assert not set_model("outside")

    runs, spans = stored(sqlite_recording)
    chat = named(spans)["chat gpt-4o-mini"]
    assert chat["model"] == "gpt-4o-mini"
    expected = default_pricebook().cost(
        "gpt-4o-mini", "openai", input_tokens=1000, output_tokens=100
    )
    assert expected is not None and expected.total > 0
    assert chat["cost_usd"] == pytest.approx(expected.total)
    assert runs[0]["cost_usd"] == pytest.approx(expected.total)


# --- feedback -----------------------------------------------------------------------------------


def test_feedback_from_another_process_later(sqlite_recording) -> None:
    with agent("answerer"), tool("search"):
        pass
    runs, _ = stored(sqlite_recording)
    run_id = runs[0]["run_id"]

    script = (
        "import sys, agentel.sdk;"
        "agentel.sdk.feedback(sys.argv[1], 0.25, label='meh', comment='too slow', store=sys.argv[2])"
    )
    subprocess.run(
        [sys.executable, "-c", script, run_id[:8], sqlite_recording.url],
        check=True,
        timeout=60,
    )
    with sqlite_recording.open() as store:
        assert store.run(run_id)["feedback"] == 0.25
        rows = store.conn.execute("SELECT score, label, comment FROM feedback").fetchall()
    assert rows == [(0.25, "meh", "too slow")]


def test_feedback_inside_a_live_run_adds_an_evaluation_event(sqlite_recording) -> None:
    import agentel.sdk

    with agent("answerer"):
        with tool("search"):
            pass
        agentel.sdk.feedback(None, 1.0, label="good", store=sqlite_recording.url)

    runs, spans = stored(sqlite_recording)
    assert runs[0]["feedback"] == 1.0
    root = named(spans)["invoke_agent answerer"]
    (event,) = root["events"]
    assert event["name"] == "gen_ai.evaluation.result"
    assert event["attributes"] == {
        A.GEN_AI_EVALUATION_NAME: "user_feedback",
        A.GEN_AI_EVALUATION_SCORE_VALUE: 1.0,
        A.GEN_AI_EVALUATION_SCORE_LABEL: "good",
        A.AGENTEL_RUN_ID: root["trace_id"] + root["span_id"],
    }


def test_feedback_rejects_unknown_runs_and_bad_scores(sqlite_recording) -> None:
    import agentel.sdk

    with pytest.raises(NotFoundError, match="abcdef"):
        agentel.sdk.feedback("abcdef", 1.0, store=sqlite_recording.url)
    with pytest.raises(ValueError, match="nan"):
        agentel.sdk.feedback("abcdef", float("nan"), store=sqlite_recording.url)
    with pytest.raises(ValueError, match="current span"):
        agentel.sdk.feedback(None, 1.0, store=sqlite_recording.url)


def test_decorated_output_passes_the_redaction_hook(capture_on, sqlite_recording) -> None:
    from agentel.instrumentation._config import set_default_redactor

    @tool("lookup")
    def lookup() -> str:
        return "key=sk-123"

    set_default_redactor(lambda text: text.replace("sk-123", "[key]"))
    try:
        assert lookup() == "key=sk-123"  # the caller's value is untouched
    finally:
        set_default_redactor(None)
    _, spans = stored(sqlite_recording)
    assert named(spans)["execute_tool lookup"]["attributes"][A.GEN_AI_TOOL_CALL_RESULT] == (
        "key=[key]"
    )
