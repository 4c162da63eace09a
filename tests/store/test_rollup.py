"""Run membership, the counted rule and run rollups, on hand-built records."""

from __future__ import annotations

import itertools

from agentel.semconv.pricing import default_pricebook
from agentel.store.records import TOKEN_FIELDS, SpanRecord
from agentel.store.rollup import Node, compute_run, mark_counted, resolve_run_ids, same_call_spans

T = "t" * 32


def span(span_id, parent=None, *, category="other", operation=None, run_id=None, **kw):
    return SpanRecord(
        trace_id=T,
        span_id=span_id,
        parent_span_id=parent,
        name=kw.pop("name", span_id),
        kind="internal",
        start_ns=kw.pop("start_ns", 0),
        end_ns=kw.pop("end_ns", 10),
        category=category,
        operation=operation,
        run_id=run_id,
        **kw,
    )


def nodes(*spans):
    return {
        s.span_id: Node(
            s.span_id, s.parent_span_id, s.operation, s.run_id if s.run_id_stamped else None
        )
        for s in spans
    }


def test_top_most_agent_is_the_run_and_child_agents_are_steps():
    http = span("h")
    outer = span("a1", "h", operation="invoke_agent")
    inner = span("a2", "a1", operation="invoke_agent")
    llm = span("l", "a2", operation="chat")
    assert resolve_run_ids(T, nodes(http, outer, inner, llm)) == {
        "h": T + "h",  # above the agent: the trace root's own run
        "a1": T + "a1",
        "a2": T + "a1",
        "l": T + "a1",
    }


def test_resolution_is_order_independent():
    spans = [
        span("r"),
        span("a", "r", operation="invoke_agent"),
        span("l1", "a", operation="chat"),
        span("t", "a", operation="execute_tool"),
        span("l2", "t", operation="chat"),
    ]
    expected = resolve_run_ids(T, nodes(*spans))
    for order in itertools.permutations(spans):
        assert resolve_run_ids(T, nodes(*order)) == expected


def test_missing_parent_gives_a_provisional_run_that_converges():
    child = span("c", "p", operation="chat")
    assert resolve_run_ids(T, nodes(child)) == {"c": T + "c"}
    parent = span("p", None, operation="invoke_workflow")
    assert resolve_run_ids(T, nodes(child, parent)) == {"c": T + "p", "p": T + "p"}


def test_stamped_spans_keep_their_run_and_lend_it_below():
    stamped = span("s", "x", run_id="R", run_id_stamped=True)
    foreign = span("f", "s", operation="invoke_agent")
    assert resolve_run_ids(T, nodes(stamped, foreign)) == {"s": "R", "f": "R"}


def test_cycles_terminate():
    a = span("a", "b")
    b = span("b", "a")
    result = resolve_run_ids(T, nodes(a, b))
    assert set(result) == {"a", "b"}


def test_one_call_in_nested_llm_spans_is_counted_once_at_the_outermost():
    framework = span("f", "a", category="llm", input_tokens=100, output_tokens=10)
    wrapper = span("w", "f")
    provider = span("p", "w", category="llm", input_tokens=100, output_tokens=10)
    embedding = span("e", "a", category="embedding", input_tokens=5)
    tool_span = span("t", "a", category="tool")
    spans = [framework, wrapper, provider, embedding, tool_span]
    mark_counted(spans)
    assert [s.counted for s in spans] == [True, False, False, True, False]
    assert same_call_spans(spans) == {"p"}


def test_a_framework_span_over_two_calls_counts_the_calls():
    framework = span("f", "a", category="llm", input_tokens=300, output_tokens=30)
    first = span("p1", "f", category="llm", input_tokens=100, output_tokens=10, start_ns=1)
    sdk = span("s1", "p1", category="llm", output_tokens=10, cache_write_tokens=40)
    second = span("p2", "f", category="llm", input_tokens=200, output_tokens=20, start_ns=2)
    spans = [framework, first, sdk, second]
    changed = mark_counted(spans)
    assert [s.counted for s in spans] == [False, True, False, True]
    assert changed == [first] and first.cache_write_tokens == 40
    assert framework.input_tokens == 300  # a span over several calls is left as it is


def test_merge_keeps_every_field_of_the_most_complete_span():
    ours = span(
        "o", "a", category="llm", model="claude-sonnet-4-5", provider="anthropic",
        input_tokens=1200, output_tokens=50, cache_read_tokens=200, cache_write_tokens=900,
        cost_usd=0.0046, cost_source="agentel", ttft_ms=80.0,
    )  # fmt: skip
    sdk = span(
        "s", "o", category="llm", model="claude-sonnet-4-5-20250929", output_tokens=60,
        cache_read_tokens=200, cache_write_tokens=900, reasoning_tokens=10,
    )  # fmt: skip
    assert mark_counted([ours, sdk]) == [ours]
    assert (ours.counted, sdk.counted) == (True, False)
    assert {f: getattr(ours, f) for f in TOKEN_FIELDS} == {
        "input_tokens": 1200,
        "output_tokens": 60,
        "cache_read_tokens": 200,
        "cache_write_tokens": 900,
        "reasoning_tokens": 10,
    }
    assert (ours.model, ours.provider, ours.ttft_ms) == ("claude-sonnet-4-5", "anthropic", 80.0)
    # no span reported these exact counts: priced again from the merged ones
    expected = default_pricebook().cost(
        "claude-sonnet-4-5", "anthropic", input_tokens=1200, output_tokens=60,
        cache_read_tokens=200, cache_write_tokens=900, reasoning_tokens=10,
    )  # fmt: skip
    assert ours.cost_usd == expected.total and ours.cost_source == expected.source
    assert (sdk.output_tokens, sdk.input_tokens) == (60, None)  # the inner span is untouched
    assert mark_counted([ours, sdk]) == []  # merging again changes nothing


def test_merge_keeps_the_cost_of_a_span_with_exactly_the_merged_counts():
    ours = span("o", "a", category="llm", model="m", input_tokens=10, output_tokens=5,
                cost_usd=0.25, cost_source="agentel")  # fmt: skip
    sdk = span("s", "o", category="llm", model="m", output_tokens=5)
    assert mark_counted([sdk, ours]) == []
    assert (ours.cost_usd, ours.counted) == (0.25, True)
    unknown = span("u", "o", category="llm", output_tokens=7)
    assert mark_counted([ours, unknown]) == [ours]
    assert (ours.output_tokens, ours.cost_usd) == (7, None)  # an unknown model stays unpriced


def test_compute_run_sums_counted_spans_and_counts_unpriced():
    root = span(
        "a",
        None,
        category="agent",
        operation="invoke_agent",
        agent_name="bot",
        start_ns=0,
        end_ns=1_000_000_000,
    )
    llm1 = span(
        "l1",
        "a",
        category="llm",
        input_tokens=100,
        output_tokens=20,
        cache_read_tokens=40,
        cost_usd=0.5,
        model="gpt-4o",
        start_ns=1,
        ttft_ms=30.0,
    )
    llm2 = span(
        "l2",
        "a",
        category="llm",
        input_tokens=10,
        output_tokens=5,
        reasoning_tokens=2,
        model="mystery",
        start_ns=5,
        status="error",
    )
    tool_span = span("t", "a", category="tool", start_ns=3)
    spans = [root, llm1, llm2, tool_span]
    mark_counted(spans)
    run = compute_run(T + "a", spans)
    assert run is not None
    assert (run.input_tokens, run.output_tokens, run.cache_read_tokens, run.reasoning_tokens) == (
        110,
        25,
        40,
        2,
    )
    assert run.cost_usd == 0.5
    assert run.unpriced_calls == 1
    assert run.llm_calls == 2 and run.tool_calls == 1 and run.errors == 1
    assert run.status == "ok" and run.duration_ms == 1000.0
    assert run.models == ["gpt-4o", "mystery"]
    assert run.ttft_ms == 30.0
    assert run.agent_name == "bot"


def test_run_without_its_root_yet_is_running():
    llm = span("l", "a", category="llm", input_tokens=1, output_tokens=1, cost_usd=0.1)
    mark_counted([llm])
    run = compute_run(T + "a", [llm])
    assert run is not None and run.status == "running" and run.end_ns is None


def test_error_root_makes_an_error_run():
    root = span("a", None, operation="invoke_agent", status="error")
    mark_counted([root])
    assert compute_run(T + "a", [root]).status == "error"


def test_compute_run_sums_every_token_field():
    llms = [
        span(
            f"l{i}",
            "a",
            category="llm",
            start_ns=i,
            **{f: (i + 1) * (j + 1) for j, f in enumerate(TOKEN_FIELDS)},
        )
        for i in range(3)
    ]
    spans = [span("a", None, operation="invoke_agent", category="agent"), *llms]
    mark_counted(spans)
    run = compute_run(T + "a", spans)
    assert {f: getattr(run, f) for f in TOKEN_FIELDS} == {
        f: sum(getattr(s, f) for s in llms) for f in TOKEN_FIELDS
    }


def test_a_tool_call_described_by_nested_spans_counts_once():
    """An MCP client's execute_tool with the server's span of the same tool inside it (and a
    framework tool span around both) is one tool call; a different tool inside, or the same
    tool called again by a sub-agent, is another."""
    tool = {"category": "tool", "operation": "execute_tool"}
    spans = [
        span("a", operation="invoke_agent"),
        span("fw", "a", tool_name="get_weather", **tool),
        span("mcp", "fw", tool_name="get_weather", **tool),
        span("transport", "mcp"),
        span("server", "transport", tool_name="get_weather", **tool),
        span("other", "server", tool_name="geocode", **tool),
        span("sub", "other", operation="invoke_agent"),
        span("again", "sub", tool_name="get_weather", **tool),
    ]
    mark_counted(spans)
    assert compute_run("a", spans).tool_calls == 3  # fw, other, again
