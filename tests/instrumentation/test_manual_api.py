"""The manual API (agent / llm / tool / record_event / set_usage) against the real OTel SDK."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import agentel.instrumentation as ai
from agentel.instrumentation import agent, llm, record_event, set_usage, tool
from agentel.semconv import attributes as A


class PlannerError(RuntimeError):
    pass


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    spans = exporter.get_finished_spans()
    named = {span.name: span for span in spans}
    assert len(named) == len(spans), [s.name for s in spans]
    return named


def attrs(span: ReadableSpan) -> dict[str, object]:
    """The span's attributes minus those a suite-wide run-id processor may stamp."""
    return {k: v for k, v in span.attributes.items() if k != A.AGENTEL_RUN_ID}


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    return span.context.span_id


def test_public_names() -> None:
    for name in ("agent", "llm", "tool", "record_event", "set_usage"):
        assert callable(getattr(ai, name)), name
        assert name in ai.__all__


# --- context managers and nesting -----------------------------------------------------------


def test_agent_llm_tool_nesting(exporter: InMemorySpanExporter) -> None:
    with agent(
        "planner",
        id="agent-1",
        description="plans things",
        version="2",
        model="gpt-4o-mini",
        conversation_id="conv-9",
        user_id="u-1",
        attributes={"custom.key": "v", "custom.list": ["a", "b"], "custom.obj": {"k": 1}},
    ) as run:
        assert isinstance(run, ai.AgentHandle)
        with llm("gpt-4o-mini", "openai") as call:
            assert isinstance(call, ai.LLMHandle)
            call.set_usage(input_tokens=10, output_tokens=5)
        with tool("search", call_id="call_1", description="web search") as t:
            assert isinstance(t, ai.ToolHandle)
            t.set_attribute("custom.result_count", 3)

    spans = by_name(exporter)
    assert set(spans) == {"invoke_agent planner", "chat gpt-4o-mini", "execute_tool search"}
    root = spans["invoke_agent planner"]
    chat = spans["chat gpt-4o-mini"]
    exe = spans["execute_tool search"]

    assert root.parent is None
    assert parent_id(chat) == span_id(root)
    assert parent_id(exe) == span_id(root)
    assert chat.context.trace_id == exe.context.trace_id == root.context.trace_id

    assert root.kind is SpanKind.INTERNAL
    assert attrs(root) == {
        A.GEN_AI_OPERATION_NAME: "invoke_agent",
        A.GEN_AI_AGENT_NAME: "planner",
        A.GEN_AI_AGENT_ID: "agent-1",
        A.GEN_AI_AGENT_DESCRIPTION: "plans things",
        A.GEN_AI_AGENT_VERSION: "2",
        A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        A.GEN_AI_CONVERSATION_ID: "conv-9",
        A.USER_ID: "u-1",
        "custom.key": "v",
        "custom.list": ("a", "b"),
        "custom.obj": '{"k": 1}',
    }
    assert root.status.status_code is StatusCode.UNSET

    assert chat.kind is SpanKind.CLIENT
    assert chat.attributes[A.GEN_AI_OPERATION_NAME] == "chat"
    assert chat.attributes[A.GEN_AI_PROVIDER_NAME] == "openai"
    assert chat.attributes[A.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert chat.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 10
    assert chat.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 5

    assert exe.kind is SpanKind.INTERNAL
    assert attrs(exe) == {
        A.GEN_AI_OPERATION_NAME: "execute_tool",
        A.GEN_AI_TOOL_NAME: "search",
        A.GEN_AI_TOOL_CALL_ID: "call_1",
        A.GEN_AI_TOOL_TYPE: "function",
        A.GEN_AI_TOOL_DESCRIPTION: "web search",
        "custom.result_count": 3,
    }


def test_agent_in_agent(exporter: InMemorySpanExporter) -> None:
    with agent("orchestrator"), agent("researcher"), tool("fetch"):
        pass
    spans = by_name(exporter)
    outer, inner = spans["invoke_agent orchestrator"], spans["invoke_agent researcher"]
    assert outer.parent is None
    assert parent_id(inner) == span_id(outer)
    assert parent_id(spans["execute_tool fetch"]) == span_id(inner)
    # children end before their parents
    assert inner.end_time <= outer.end_time


def test_workflow(exporter: InMemorySpanExporter) -> None:
    with agent("pipeline", workflow=True):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "invoke_workflow pipeline"
    assert span.attributes[A.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert span.attributes[A.GEN_AI_WORKFLOW_NAME] == "pipeline"


def test_llm_operation_and_attributes(exporter: InMemorySpanExporter) -> None:
    with llm("text-embedding-3-small", "openai", operation="embeddings", attributes={"x": 1}):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes[A.GEN_AI_OPERATION_NAME] == "embeddings"
    assert span.attributes["x"] == 1


def test_llm_without_provider_sets_no_provider(exporter: InMemorySpanExporter) -> None:
    with llm("my-local-model"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat my-local-model"
    assert A.GEN_AI_PROVIDER_NAME not in span.attributes


def test_scope_object_reusable_and_reentrant(exporter: InMemorySpanExporter) -> None:
    scope = tool("again")
    with scope, scope:
        pass
    with scope:
        pass
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["execute_tool again"] * 3
    assert parent_id(spans[0]) == span_id(spans[1])
    assert spans[2].parent is None


def test_async_context_managers(exporter: InMemorySpanExporter) -> None:
    async def main() -> None:
        async with agent("async-agent") as run:
            run.record_event("step", n=1)
            async with llm("gpt-4o", "openai"):
                await asyncio.sleep(0)
                assert set_usage(input_tokens=3, output_tokens=4)
            async with tool("t"):
                await asyncio.sleep(0)

    asyncio.run(main())
    spans = by_name(exporter)
    root = spans["invoke_agent async-agent"]
    assert parent_id(spans["chat gpt-4o"]) == span_id(root)
    assert parent_id(spans["execute_tool t"]) == span_id(root)
    assert spans["chat gpt-4o"].attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    assert [e.name for e in root.events] == ["agentel.step"]


def test_parallel_tasks_keep_their_own_parents(exporter: InMemorySpanExporter) -> None:
    async def step(i: int) -> None:
        async with tool(f"t{i}"):
            await asyncio.sleep(0.01)
            async with llm(f"m{i}", "openai"):
                await asyncio.sleep(0.01)

    async def main() -> None:
        async with agent("fanout"):
            await asyncio.gather(*(step(i) for i in range(3)))

    asyncio.run(main())
    spans = by_name(exporter)
    for i in range(3):
        assert parent_id(spans[f"chat m{i}"]) == span_id(spans[f"execute_tool t{i}"])
        assert parent_id(spans[f"execute_tool t{i}"]) == span_id(spans["invoke_agent fanout"])


def test_shared_scope_object_entered_concurrently(exporter: InMemorySpanExporter) -> None:
    retrieve = tool("retrieve")  # one module-level-style scope used by many tasks and threads

    async def task(i: int) -> None:
        async with agent(f"a{i}"), retrieve as handle:
            handle.set_attribute("i", i)
            await asyncio.sleep(0.01 * (3 - i))  # exit in a different order than entry

    async def main() -> None:
        await asyncio.gather(*(task(i) for i in range(3)))

    asyncio.run(main())

    def work(i: int) -> None:
        with agent(f"t{i}"), retrieve as handle:
            handle.set_attribute("i", 10 + i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    spans = exporter.get_finished_spans()
    tools = [s for s in spans if s.name == "execute_tool retrieve"]
    agents = {s.name: s for s in spans if s.name.startswith("invoke_agent")}
    assert len(tools) == 6
    for span in tools:
        i = span.attributes["i"]
        owner = agents[f"invoke_agent a{i}"] if i < 10 else agents[f"invoke_agent t{i - 10}"]
        assert parent_id(span) == span_id(owner)


def test_provider_installed_after_import_is_honoured(tmp_path) -> None:
    import subprocess
    import sys

    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "from agentel.instrumentation import agent\n"
        "with agent('before'):\n"
        "    pass\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "with agent('after'):\n"
        "    pass\n"
        "names = [s.name for s in exporter.get_finished_spans()]\n"
        "assert names == ['invoke_agent after'], names\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- usage, events ---------------------------------------------------------------------------


def test_set_usage_all_fields_and_model(exporter: InMemorySpanExporter) -> None:
    with agent("a"), llm("requested-model", "openai"):
        assert set_usage(
            input_tokens=100,
            output_tokens=20,
            cache_read_tokens=40,
            cache_write_tokens=8,
            reasoning_tokens=6,
            model="served-model",
        )
        # later reports overwrite the fields they give and keep the others
        assert set_usage(output_tokens=25)
    span = by_name(exporter)["chat requested-model"]
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert span.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 25
    assert span.attributes[A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 40
    assert span.attributes[A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 8
    assert span.attributes[A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 6
    assert span.attributes[A.GEN_AI_RESPONSE_MODEL] == "served-model"


@pytest.mark.swallows("set_usage")
def test_set_usage_outside_llm_is_ignored(exporter: InMemorySpanExporter) -> None:
    assert set_usage(input_tokens=1) is False
    with agent("a"):
        assert set_usage(input_tokens=1) is False
        with llm("m", "openai"), tool("inner-tool"):
            # the innermost agentel scope is a tool: usage doesn't belong to it
            assert set_usage(input_tokens=1) is False
    for span in exporter.get_finished_spans():
        assert A.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes


def test_set_usage_in_worker_thread_with_propagated_context(
    exporter: InMemorySpanExporter,
) -> None:
    from opentelemetry import context

    results: list[bool] = []
    with llm("threaded", "openai"):
        ctx = context.get_current()

        def work() -> None:
            token = context.attach(ctx)
            try:
                results.append(set_usage(input_tokens=7, output_tokens=1))
            finally:
                context.detach(token)

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    assert results == [True]
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 7


def test_unpriced_model_gets_no_cost(exporter: InMemorySpanExporter) -> None:
    with llm("no-such-model-xyz", "no-such-provider") as call:
        call.set_usage(input_tokens=10, output_tokens=5)
    (span,) = exporter.get_finished_spans()
    assert A.GEN_AI_USAGE_COST not in span.attributes
    assert span.attributes[A.GEN_AI_USAGE_INPUT_TOKENS] == 10


def test_priced_model_gets_cost_at_end(exporter: InMemorySpanExporter) -> None:
    from agentel.semconv import pricing

    cost = pricing.default_pricebook().cost(
        "gpt-4o-mini", "openai", input_tokens=1000, output_tokens=500
    )
    if cost is None:
        pytest.skip("gpt-4o-mini is not in the price catalog")
    expected = pricing.cost_attributes(cost)
    with llm("gpt-4o-mini", "openai") as call:
        call.set_usage(input_tokens=1000, output_tokens=500)
        # the cost is only computed at the end
        assert A.GEN_AI_USAGE_COST not in call.span.attributes  # type: ignore[attr-defined]
    (span,) = exporter.get_finished_spans()
    for key, value in expected.items():
        assert span.attributes[key] == pytest.approx(value) if isinstance(value, float) else value
    assert span.attributes[A.GEN_AI_USAGE_COST] > 0


def test_record_event_on_current_span(exporter: InMemorySpanExporter) -> None:
    with agent("a"), tool("t") as t:
        record_event(
            "retry",
            attempt=2,
            reason="timeout",
            ok=False,
            ratio=0.5,
            tags=["x", "y"],
            payload={"nested": [1, 2]},
            mixed=[1, "a"],
            nothing=None,
        )
        t.record_event("agentel.custom", n=1)
    spans = by_name(exporter)
    events = spans["execute_tool t"].events
    assert [e.name for e in events] == ["agentel.retry", "agentel.custom"]
    attrs = dict(events[0].attributes)
    assert attrs == {
        "attempt": 2,
        "reason": "timeout",
        "ok": False,
        "ratio": 0.5,
        "tags": ("x", "y"),
        "payload": json.dumps({"nested": [1, 2]}),
        "mixed": json.dumps([1, "a"]),
    }
    assert spans["invoke_agent a"].events == ()


def test_record_event_without_span_is_harmless() -> None:
    record_event("nothing_to_see", x=object())


# --- decorators ------------------------------------------------------------------------------


def test_decorator_sync(exporter: InMemorySpanExporter) -> None:
    @agent("planner")
    def plan(task: str) -> str:
        """Plans."""
        return search(task)

    @tool("search")
    def search(query: str) -> str:
        return query.upper()

    assert plan.__name__ == "plan"
    assert plan.__doc__ == "Plans."
    assert plan("go") == "GO"
    assert plan("again") == "AGAIN"
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["execute_tool search", "invoke_agent planner"] * 2
    assert parent_id(spans[0]) == span_id(spans[1])
    assert parent_id(spans[2]) == span_id(spans[3])
    assert spans[1].context.trace_id != spans[3].context.trace_id


def test_bare_decorators(exporter: InMemorySpanExporter) -> None:
    @agent
    def researcher() -> int:
        return lookup()

    @tool
    def lookup() -> int:
        return 42

    assert researcher() == 42
    assert [s.name for s in exporter.get_finished_spans()] == [
        "execute_tool lookup",
        "invoke_agent researcher",
    ]


def test_decorator_on_method(exporter: InMemorySpanExporter) -> None:
    class Agent:
        def __init__(self) -> None:
            self.calls = 0

        @agent("method-agent")
        def run(self, x: int) -> int:
            self.calls += 1
            return x * 2

    a = Agent()
    assert a.run(4) == 8
    assert a.calls == 1
    assert [s.name for s in exporter.get_finished_spans()] == ["invoke_agent method-agent"]


def test_decorator_async(exporter: InMemorySpanExporter) -> None:
    @agent("async-planner")
    async def plan() -> str:
        return await fetch()

    @tool("fetch")
    async def fetch() -> str:
        await asyncio.sleep(0)
        return "ok"

    assert asyncio.iscoroutinefunction(plan)
    assert asyncio.run(plan()) == "ok"
    spans = by_name(exporter)
    assert parent_id(spans["execute_tool fetch"]) == span_id(spans["invoke_agent async-planner"])


def test_decorator_generator_covers_iteration(exporter: InMemorySpanExporter) -> None:
    @tool("inner")
    def inner(i: int) -> int:
        return i

    @agent("streamer")
    def stream(n: int):
        for i in range(n):
            # the agent span is current inside the generator body at every step
            yield inner(i)
        return "done"

    gen = stream(3)
    assert exporter.get_finished_spans() == ()  # nothing runs before the first next()
    assert next(gen) == 0
    assert trace.get_current_span() is trace.INVALID_SPAN  # not leaked into the consumer
    assert next(gen) == 1
    assert [s.name for s in exporter.get_finished_spans()] == ["execute_tool inner"] * 2
    assert next(gen) == 2
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done"

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["execute_tool inner"] * 3 + ["invoke_agent streamer"]
    root = spans[-1]
    assert all(parent_id(s) == span_id(root) for s in spans[:3])
    assert root.end_time >= spans[2].end_time
    assert root.status.status_code is StatusCode.UNSET


def test_decorator_generator_send_throw_close(exporter: InMemorySpanExporter) -> None:
    seen: list[object] = []

    @agent("echo")
    def echo():
        received = None
        while True:
            try:
                received = yield received
                seen.append(received)
            except KeyError as exc:
                seen.append(("caught", exc.args[0]))
                received = "recovered"

    gen = echo()
    assert next(gen) is None
    assert gen.send("a") == "a"
    assert gen.throw(KeyError("k")) == "recovered"
    assert exporter.get_finished_spans() == ()
    gen.close()
    assert seen == ["a", ("caught", "k")]
    (span,) = exporter.get_finished_spans()
    assert span.name == "invoke_agent echo"
    assert span.status.status_code is StatusCode.UNSET  # closing early is not an error


def test_decorator_generator_error(exporter: InMemorySpanExporter) -> None:
    original = PlannerError("bad step")

    @agent("failing-gen")
    def gen():
        yield 1
        raise original

    it = gen()
    assert next(it) == 1
    with pytest.raises(PlannerError) as info:
        next(it)
    assert info.value is original
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


def test_decorator_async_generator_covers_iteration(exporter: InMemorySpanExporter) -> None:
    @llm("gpt-4o", "openai")
    async def tokens(n: int):
        for i in range(n):
            await asyncio.sleep(0)
            async with tool(f"t{i}"):
                pass
            yield i
        set_usage(input_tokens=1, output_tokens=n)

    async def main() -> list[int]:
        out = []
        agen = tokens(3)
        async for item in agen:
            out.append(item)
            # the llm span is not current in the consumer between items
            assert trace.get_current_span() is trace.INVALID_SPAN
            assert all(s.name.startswith("execute_tool") for s in exporter.get_finished_spans())
        return out

    assert asyncio.run(main()) == [0, 1, 2]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [
        "execute_tool t0",
        "execute_tool t1",
        "execute_tool t2",
        "chat gpt-4o",
    ]
    root = spans[-1]
    assert all(parent_id(s) == span_id(root) for s in spans[:3])
    assert root.attributes[A.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_decorator_async_generator_asend_athrow_aclose(exporter: InMemorySpanExporter) -> None:
    @agent("async-echo")
    async def echo():
        received = None
        while True:
            try:
                received = yield received
            except KeyError:
                received = "recovered"

    async def main() -> None:
        agen = echo()
        assert await agen.asend(None) is None
        assert await agen.asend("x") == "x"
        assert await agen.athrow(KeyError("k")) == "recovered"
        assert exporter.get_finished_spans() == ()
        await agen.aclose()

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.UNSET


def test_decorator_async_generator_error(exporter: InMemorySpanExporter) -> None:
    original = PlannerError("async gen failed")

    @tool("failing-agen")
    async def agen():
        yield 1
        raise original

    async def main() -> None:
        with pytest.raises(PlannerError) as info:
            async for _ in agen():
                pass
        assert info.value is original

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == f"{__name__}.PlannerError"


# --- exceptions ------------------------------------------------------------------------------


def test_exception_recorded_and_reraised_unchanged(exporter: InMemorySpanExporter) -> None:
    original = PlannerError("no plan")
    with pytest.raises(PlannerError) as info, agent("planner"), tool("step"):
        raise original
    assert info.value is original

    spans = by_name(exporter)
    for name in ("execute_tool step", "invoke_agent planner"):
        span = spans[name]
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == f"{__name__}.PlannerError: no plan"
        assert span.attributes[A.ERROR_TYPE] == f"{__name__}.PlannerError"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == f"{__name__}.PlannerError"
        assert event.attributes["exception.message"] == "no plan"


def test_builtin_exception_type_is_bare(exporter: InMemorySpanExporter) -> None:
    original = ValueError("bad")

    @tool("parse")
    def parse() -> None:
        raise original

    with pytest.raises(ValueError) as info:
        parse()
    assert info.value is original
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.ERROR_TYPE] == "ValueError"


def test_async_exception(exporter: InMemorySpanExporter) -> None:
    original = KeyError("missing")

    @agent("async-fail")
    async def run() -> None:
        await asyncio.sleep(0)
        raise original

    async def main() -> None:
        with pytest.raises(KeyError) as info:
            await run()
        assert info.value is original

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.attributes[A.ERROR_TYPE] == "KeyError"


def test_handle_record_error_without_raising(exporter: InMemorySpanExporter) -> None:
    with tool("soft-fail") as t:
        t.record_error(TimeoutError("slow"))
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "TimeoutError"


def test_handle_after_end_is_noop(exporter: InMemorySpanExporter, caplog) -> None:
    with llm("m", "openai") as call:
        pass
    caplog.set_level(logging.WARNING)
    call.set_attribute("late", 1)
    call.set_usage(input_tokens=5)
    call.record_event("late")
    (span,) = exporter.get_finished_spans()
    assert "late" not in span.attributes
    assert span.events == ()
    assert not [r for r in caplog.records if "ended span" in r.getMessage()]


def test_import_does_not_load_sdk_or_openai() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agentel.instrumentation, agentel.instrumentation.openai\n"
        "bad = [m for m in sys.modules if m == 'openai' or m.startswith('openai.')"
        " or m.startswith('opentelemetry.sdk')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
