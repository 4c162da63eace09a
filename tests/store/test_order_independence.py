"""Property: whatever the batching, order, duplication and number of writers, the stored runs
equal a reference computed directly from the generated span trees, on every backend."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agentel.exporters._base import StoreSpanExporter
from agentel.exporters.mongodb import MongoSpanExporter
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import Store
from agentel.store.memory import MemoryStore
from agentel.store.records import iso_time

EXAMPLES = 200
WRITERS = 3
RESOURCE = Resource({"service.name": "svc"})
SCOPE = InstrumentationScope("property-test")


@dataclass
class Node:
    kind: str  # agent | llm | tool | other | leaf
    status: str
    model: str | None = None
    cost: float | None = None
    tokens: tuple[int, int, int] = (0, 0, 0)
    ttft: float | None = None
    conversation: str | None = None
    stamp_dropped: bool = False
    children: list[Node] = field(default_factory=list)


def _llm(children: st.SearchStrategy[list[Node]]) -> st.SearchStrategy[Node]:
    return st.builds(
        lambda status, priced, cost, tokens, ttft, children: Node(
            "llm",
            status,
            model="custom-model" if priced else "no-such-model",
            cost=cost / 1024 if priced else None,
            tokens=tokens,
            ttft=ttft / 64 if ttft is not None else None,
            children=children,
        ),
        _status(),
        st.booleans(),
        st.integers(0, 200),
        # OpenTelemetry counts cached tokens inside input tokens: cache_read <= input
        st.tuples(st.integers(0, 5000), st.integers(0, 2000), st.integers(0, 100)).map(
            lambda t: (max(t[0], t[2]), t[1], t[2])
        ),
        st.none() | st.integers(1, 100),
        children,
    )


def _status() -> st.SearchStrategy[str]:
    return st.sampled_from(["ok", "unset", "unset", "error"])


# an LLM span may wrap provider LLM spans (a framework span) and leaves such as an HTTP call
_leaf = st.builds(lambda s: Node("leaf", s), _status())
_llm_tree = st.recursive(
    _llm(st.just([])),
    lambda inner: _llm(st.lists(inner | _leaf, max_size=2)),
    max_leaves=4,
)


def _node(kind: str, status: str, conversation: str | None, children: list[Node]) -> Node:
    return Node(kind, status, conversation=conversation, children=children)


_tree = st.recursive(
    _llm_tree | _leaf,
    lambda inner: st.builds(
        _node,
        st.sampled_from(["agent", "agent", "tool", "other"]),
        _status(),
        st.none() | st.sampled_from(["conv-1", "conv-2"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


@dataclass
class Flat:
    """One generated span with its place in the tree and the reference answers."""

    node: Node
    trace_id: int
    span_id: int
    parent: Flat | None
    start: int
    end: int
    run: Flat | None = None  # the span that roots its run
    counted: bool = False
    calls: int = 0  # model calls in this subtree: LLM spans without an LLM span below
    merged: Node | None = None  # a counted span: the merged usage of its call


def _flatten(root: Node, trace_id: int, rng: random.Random, clock: Iterator[int]) -> list[Flat]:
    spans: list[Flat] = []

    def walk(node: Node, parent: Flat | None, top_agent: Flat | None) -> int:
        start = next(clock)  # unique, so it also makes the span id unique
        flat = Flat(node, trace_id, rng.getrandbits(32) << 32 | start, parent, start, 0)
        spans.append(flat)
        if node.kind == "agent" and top_agent is None:
            top_agent = flat
        flat.run = top_agent
        below = sum(walk(child, flat, top_agent) for child in node.children)
        flat.end = next(clock)
        flat.calls = below or int(node.kind == "llm")
        return flat.calls

    walk(root, None, None)
    for flat in spans:
        flat.run = flat.run or spans[0]  # outside every agent: the trace root's run
        if flat.node.kind != "llm" or flat.calls != 1:
            continue
        above = flat.parent
        while above is not None and above.node.kind != "llm":
            above = above.parent
        # one call: counted at its outermost LLM span, with the usage of all its LLM spans
        flat.counted = above is None or above.calls > 1
        if flat.counted:
            flat.merged = _merged(
                [f.node for f in spans if f.node.kind == "llm" and _inside(f, flat)]
            )
    return spans


def _inside(flat: Flat | None, top: Flat) -> bool:
    while flat is not None and flat is not top:
        flat = flat.parent
    return flat is top


def _merged(members: list[Node]) -> Node:
    """The usage of one call's LLM spans (outermost first): the largest of each count, the
    cost of the first span with exactly those counts (the models are not in the price list),
    the first TTFT."""
    tokens = tuple(max(n.tokens[i] for n in members) for i in range(3))
    cost = next((n.cost for n in members if n.cost is not None and n.tokens == tokens), None)
    ttft = next((n.ttft for n in members if n.ttft is not None), None)
    return Node("llm", "ok", model=members[0].model, cost=cost, tokens=tokens, ttft=ttft)


def _readable(flat: Flat, mode: str, *, live: bool = False) -> ReadableSpan:
    node = flat.node
    attrs: dict[str, Any] = {}
    name = {"agent": "invoke_agent bot", "llm": "chat m", "tool": "execute_tool t"}.get(
        node.kind, "work"
    )
    if node.kind == "agent":
        attrs["gen_ai.operation.name"] = "invoke_agent"
        attrs["gen_ai.agent.name"] = f"agent-{flat.span_id % 3}"
    elif node.kind == "tool":
        attrs["gen_ai.operation.name"] = "execute_tool"
        attrs["gen_ai.tool.name"] = "t"
    elif node.kind == "llm":
        attrs["gen_ai.operation.name"] = "chat"
        attrs["gen_ai.request.model"] = node.model
        attrs["gen_ai.usage.input_tokens"] = node.tokens[0]
        attrs["gen_ai.usage.output_tokens"] = node.tokens[1]
        attrs["gen_ai.usage.cache_read.input_tokens"] = node.tokens[2]
        if node.cost is not None:
            attrs["gen_ai.usage.cost"] = node.cost
        if node.ttft is not None:
            attrs["gen_ai.response.time_to_first_chunk"] = node.ttft
    if node.conversation:
        attrs["gen_ai.conversation.id"] = node.conversation
    # "stamped": as RunIdSpanProcessor does; "mixed": some third-party spans lack the stamp;
    # "foreign": nothing stamped (e.g. OTLP data from another SDK)
    top_agent = flat.run if flat.run.node.kind == "agent" and flat.run is not None else None
    if top_agent is not None and (
        mode == "stamped" or (mode == "mixed" and not node.stamp_dropped)
    ):
        # "mixed" stamps a bare span id, as agentel did before run ids named the trace too
        stamp = format(top_agent.span_id, "016x")
        if mode == "stamped":
            stamp = format(top_agent.trace_id, "032x") + stamp
        attrs["agentel.run.id"] = stamp
    status = {"ok": StatusCode.OK, "error": StatusCode.ERROR}.get(node.status, StatusCode.UNSET)
    parent = flat.parent
    return ReadableSpan(
        name=name,
        context=SpanContext(flat.trace_id, flat.span_id, False, TraceFlags(1)),
        parent=SpanContext(flat.trace_id, parent.span_id, False, TraceFlags(1)) if parent else None,
        resource=RESOURCE,
        attributes=attrs,
        kind=SpanKind.INTERNAL,
        status=Status(status),
        start_time=flat.start,
        end_time=None if live else flat.end,
        instrumentation_scope=SCOPE,
    )


def _first_tool_call(flat: Flat, group: list[Flat]) -> bool:
    """A tool span that no tool span (all are tool "t") of its run encloses below an agent:
    nested spans of the same tool describe one call."""
    members = {id(f) for f in group}
    parent = flat.parent
    while parent is not None and id(parent) in members and parent.node.kind != "agent":
        if parent.node.kind == "tool":
            return False
        parent = parent.parent
    return True


def _reference_runs(spans: list[Flat]) -> dict[str, dict[str, Any]]:
    """The expected run dicts, computed from the trees alone."""
    runs: dict[str, dict[str, Any]] = {}
    members: dict[int, list[Flat]] = {}
    for flat in spans:
        members.setdefault(id(flat.run), []).append(flat)
    for group in members.values():
        root = group[0].run
        group.sort(key=lambda f: f.start)
        counted = [f for f in group if f.counted]
        calls = [f.merged for f in counted]
        is_agent = root.node.kind == "agent"
        conversation = root.node.conversation or next(
            (f.node.conversation for f in group if f.node.conversation), None
        )
        ttft = next((n.ttft * 1000.0 for n in calls if n.ttft is not None), None)
        run_id = format(root.trace_id, "032x") + format(root.span_id, "016x")
        runs[run_id] = {
            "run_id": run_id,
            "trace_id": format(root.trace_id, "032x"),
            "name": {"agent": "invoke_agent bot", "llm": "chat m", "tool": "execute_tool t"}.get(
                root.node.kind, "work"
            ),
            "agent_name": f"agent-{root.span_id % 3}" if is_agent else None,
            "status": "error" if root.node.status == "error" else "ok",
            "start_time": iso_time(root.start),
            "end_time": iso_time(root.end),
            "duration_ms": (root.end - root.start) / 1e6,
            "conversation_id": conversation,
            "user_id": None,
            "service_name": "svc",
            "models": sorted({n.model for n in calls}),
            "llm_calls": len(counted),
            "tool_calls": sum(f.node.kind == "tool" and _first_tool_call(f, group) for f in group),
            "errors": sum(f.node.status == "error" for f in group),
            "iterations": len(counted),
            "input_tokens": sum(n.tokens[0] for n in calls),
            "output_tokens": sum(n.tokens[1] for n in calls),
            "cache_read_tokens": sum(n.tokens[2] for n in calls),
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd": sum(n.cost for n in calls if n.cost is not None),
            "unpriced_calls": sum(n.cost is None for n in calls),
            "ttft_ms": ttft,
            "span_count": len(group),
            "feedback": None,
            "pid": None,
            "host": None,
        }
    return runs


@dataclass
class Target:
    exporters: list[StoreSpanExporter]
    reader: Store
    clear: Any


@pytest.fixture
def target(backend: str, tmp_path, request) -> Iterator[Target]:
    """WRITERS exporter instances and a reader on one store of the backend, clearable."""
    if backend == "memory":
        shared = MemoryStore()
        exporters = [StoreSpanExporter(shared) for _ in range(WRITERS)]

        def clear() -> None:
            shared.__init__()  # type: ignore[misc]

        yield Target(exporters, shared, clear)
        return
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'prop.db'}"
        exporters = [SQLiteSpanExporter(url) for _ in range(WRITERS)]
        reader = exporters[0].store

        def clear() -> None:
            reader.conn.executescript("DELETE FROM spans; DELETE FROM runs; DELETE FROM feedback;")

    else:
        url = request.getfixturevalue("mongodb_url")
        exporters = [MongoSpanExporter(url) for _ in range(WRITERS)]
        reader = exporters[0].store

        def clear() -> None:
            for collection in (reader._spans, reader._runs, reader._feedback):
                collection.delete_many({})

    yield Target(exporters, reader, clear)
    for exporter in exporters:
        exporter.shutdown()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    trees=st.lists(
        st.tuples(_tree, st.sampled_from(["stamped", "mixed", "foreign"]), st.randoms()),
        min_size=1,
        max_size=3,
    ),
    delivery=st.randoms(use_true_random=False),
)
def test_stored_runs_equal_the_reference(target: Target, trees, delivery) -> None:
    target.clear()
    clock = iter(range(1_000, 10**9, 10))
    flats: list[Flat] = []
    readable: list[ReadableSpan] = []
    for number, (tree, mode, rng) in enumerate(trees, 1):
        drop = rng.choice([0.1, 0.2, 0.5])
        for node in _walk(tree):
            node.stamp_dropped = rng.random() < drop
        spans = _flatten(tree, rng.getrandbits(112) << 16 | number, rng, clock)
        flats += spans
        readable += [_readable(f, mode) for f in spans]
        # the live-run processor's snapshots of top agent spans, taken when they started
        readable += [
            _readable(f, mode, live=True)
            for f in spans
            if mode != "foreign" and f.run is f and f.node.kind == "agent"
        ]

    sent = readable + delivery.sample(readable, delivery.randint(0, len(readable)))
    delivery.shuffle(sent)
    while sent:
        size = delivery.randint(1, 6)
        batch, sent = sent[:size], sent[size:]
        exporter = delivery.choice(target.exporters)
        assert exporter.export(batch).name == "SUCCESS"

    expected = _reference_runs(flats)
    stored = {r["run_id"]: r for r in target.reader.runs(limit=None)}
    assert stored.keys() == expected.keys()
    for run_id, run in expected.items():
        got = stored[run_id]
        assert got["cost_usd"] == pytest.approx(run["cost_usd"], abs=1e-12)
        assert {**got, "cost_usd": 0} == {**run, "cost_usd": 0}, run_id
    spans = {s["span_id"]: s for s in target.reader.spans()}
    assert all(s["end_time"] is not None for s in spans.values())
    assert len(spans) == len(flats)
    for flat in flats:
        span = spans[format(flat.span_id, "016x")]
        assert span["run_id"] == format(flat.trace_id, "032x") + format(flat.run.span_id, "016x")
        assert span["counted"] is flat.counted


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)
