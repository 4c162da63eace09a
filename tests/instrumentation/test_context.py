"""Context never gets lost: asyncio tasks, threads and executors, and other processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from agentel.instrumentation import agent, tool
from agentel.instrumentation.context import (
    ContextThreadPoolExecutor,
    continue_trace,
    current_run_id,
    extract,
    inject,
    wrap,
)
from agentel.semconv import attributes as A


def spans_of(recording) -> tuple[list[dict], dict[str, dict]]:
    with recording.open() as store:
        runs = store.runs()
        spans = store.spans()
    return runs, {s["name"]: s for s in spans}


def assert_one_run_with_tools(recording, tools: list[str]) -> None:
    runs, by_name = spans_of(recording)
    (run,) = runs
    root = by_name["invoke_agent fan-out"]
    for name in tools:
        span = by_name[f"execute_tool {name}"]
        assert span["parent_span_id"] == root["span_id"], name
        assert span["run_id"] == run["run_id"] == root["trace_id"] + root["span_id"], name
    assert run["tool_calls"] == len(tools)


# --- asyncio --------------------------------------------------------------------------------------


async def fetch(name: str) -> str:
    with tool(name):
        await asyncio.sleep(0.01)
    return name


def test_asyncio_gather(sqlite_recording) -> None:
    async def main() -> list[str]:
        with agent("fan-out"):
            return await asyncio.gather(fetch("a"), fetch("b"), fetch("c"))

    assert asyncio.run(main()) == ["a", "b", "c"]
    assert_one_run_with_tools(sqlite_recording, ["a", "b", "c"])


def test_asyncio_task_group(sqlite_recording) -> None:
    async def main() -> None:
        async with agent("fan-out"), asyncio.TaskGroup() as group:
            group.create_task(fetch("x"))
            group.create_task(fetch("y"))

    asyncio.run(main())
    assert_one_run_with_tools(sqlite_recording, ["x", "y"])


# --- threads and executors ------------------------------------------------------------------------


def work(name: str) -> str:
    with tool(name):
        return name


def test_context_thread_pool_executor(sqlite_recording) -> None:
    with agent("fan-out"), ContextThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(work, ["p", "q", "r"])) == ["p", "q", "r"]
        assert pool.submit(work, "s").result() == "s"
    assert_one_run_with_tools(sqlite_recording, ["p", "q", "r", "s"])


def test_wrap_for_threads_and_run_in_executor(sqlite_recording) -> None:
    async def main() -> str:
        with agent("fan-out"):
            thread = threading.Thread(target=wrap(work), args=("thread",))
            thread.start()
            thread.join()
            return await asyncio.get_running_loop().run_in_executor(None, wrap(work), "loop")

    assert asyncio.run(main()) == "loop"
    assert_one_run_with_tools(sqlite_recording, ["thread", "loop"])


def test_a_plain_executor_loses_the_context(sqlite_recording) -> None:
    # Why the helpers exist: without them the worker's span starts a trace of its own.
    with agent("fan-out"), ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(work, "lost").result()
    _, by_name = spans_of(sqlite_recording)
    assert by_name["execute_tool lost"]["parent_span_id"] is None
    assert by_name["execute_tool lost"]["trace_id"] != by_name["invoke_agent fan-out"]["trace_id"]


# --- processes ------------------------------------------------------------------------------------

CHILD = """
import json, sys
import agentel.sdk
from agentel.instrumentation import llm, set_usage, tool
from agentel.instrumentation.context import continue_trace

handle = agentel.sdk.configure(store=sys.argv[1], instrument=None, service_name="worker")
with continue_trace(json.loads(sys.argv[2])):
    with tool("remote_search"), llm("gpt-4o-mini", "openai"):
        set_usage(input_tokens=500, output_tokens=50)
handle.shutdown()
"""


def test_a_run_across_two_processes_is_one_run(sqlite_recording) -> None:
    with agent("fan-out") as root:
        headers = inject()
        assert set(headers) == {"traceparent", "baggage"}
        ctx = root.span.get_span_context()
        run_id = format(ctx.trace_id, "032x") + format(ctx.span_id, "016x")
        assert f"{A.BAGGAGE_RUN_ID}={run_id}" in headers["baggage"]
        subprocess.run(
            [sys.executable, "-c", CHILD, sqlite_recording.url, json.dumps(headers)],
            check=True,
            timeout=120,
        )
        with tool("local"):
            pass

    runs, by_name = spans_of(sqlite_recording)
    (run,) = runs
    assert run["run_id"] == run_id
    remote, chat = by_name["execute_tool remote_search"], by_name["chat gpt-4o-mini"]
    assert remote["parent_span_id"] == run_id[32:] and chat["parent_span_id"] == remote["span_id"]
    assert remote["service_name"] == "worker"
    assert {s["run_id"] for s in by_name.values()} == {run_id}
    assert (run["tool_calls"], run["llm_calls"], run["input_tokens"]) == (2, 1, 500)
    assert run["cost_usd"] > 0


TRACEPARENT_ONLY_CHILD = """
import json, sys
import agentel.sdk
from agentel.instrumentation import agent, llm, set_usage
from agentel.instrumentation.context import continue_trace

handle = agentel.sdk.configure(store=sys.argv[1], instrument=None, service_name="worker")
with continue_trace(json.loads(sys.argv[2])):
    with agent("worker"), llm("gpt-4o-mini", "openai"):
        set_usage(input_tokens=500, output_tokens=50)
handle.shutdown()
"""


def test_a_child_given_only_traceparent_that_starts_an_agent_joins_the_run(
    sqlite_recording,
) -> None:
    """Issue 14 item 10: no baggage, so the child's agent stamps a run of its own; its spans
    (and its live record) arrive before the parent's, and still make one run."""
    with agent("fan-out") as root, tool("delegate"):
        headers = {"traceparent": inject()["traceparent"]}
        subprocess.run(
            [
                sys.executable,
                "-c",
                TRACEPARENT_ONLY_CHILD,
                sqlite_recording.url,
                json.dumps(headers),
            ],
            check=True,
            timeout=120,
        )
    ctx = root.span.get_span_context()
    run_id = format(ctx.trace_id, "032x") + format(ctx.span_id, "016x")
    runs, by_name = spans_of(sqlite_recording)
    assert [r["run_id"] for r in runs] == [run_id]
    assert {s["run_id"] for s in by_name.values()} == {run_id}
    (run,) = runs
    assert (run["agent_name"], run["llm_calls"], run["input_tokens"]) == ("fan-out", 1, 500)
    assert run["span_count"] == 4 and run["status"] == "ok"


def test_baggage_alone_does_not_join_a_local_parent(sqlite_recording) -> None:
    # The run id in baggage applies only under a remote parent; a local run keeps its own id.
    ctx = baggage.set_baggage(A.BAGGAGE_RUN_ID, "00000000000000aa")
    token = otel_context.attach(ctx)
    try:
        with agent("fan-out"), tool("t"):
            pass
    finally:
        otel_context.detach(token)
    runs, by_name = spans_of(sqlite_recording)
    root = by_name["invoke_agent fan-out"]
    assert runs[0]["run_id"] == root["trace_id"] + root["span_id"]


def test_bad_baggage_run_ids_are_ignored(sqlite_recording) -> None:
    with agent("fan-out"):
        headers = inject()
    headers["baggage"] = f"{A.BAGGAGE_RUN_ID}=not-a-run-id"
    with continue_trace(headers), tool("t"):
        assert current_run_id() == "not-a-run-id"  # what the caller claims, unvalidated
    _, by_name = spans_of(sqlite_recording)
    assert A.AGENTEL_RUN_ID not in by_name["execute_tool t"]["attributes"]


def test_extract_is_case_insensitive_and_never_raises() -> None:
    with agent("fan-out") as root:
        headers = {k.title(): v for k, v in inject().items()}
    ctx = extract(headers)
    parent = trace.get_current_span(ctx).get_span_context()
    assert parent.is_remote and parent.span_id == root.span.get_span_context().span_id
    assert extract({"traceparent": "garbage"}) is not None
    assert inject({}) == {}  # nothing current: nothing to send
