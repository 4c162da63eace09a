"""Pure functions that every backend shares: run membership, the `counted` rule, run rollups.

They take plain records and return plain results, so the memory, SQLite and MongoDB
backends produce identical runs, and a test can compute the reference answer directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter

from agentel.semconv.normalize import RUN_OPERATIONS, USAGE_CATEGORIES
from agentel.store.records import (
    TOKEN_FIELDS,
    RunRecord,
    SpanRecord,
    is_root_of,
    model_keys,
    price,
    root_span_id,
    run_key,
)

MAX_DEPTH = 100_000
"""Ancestor walks stop here, so a corrupt (cyclic) parent chain cannot loop forever."""


@dataclass(frozen=True, slots=True)
class Node:
    """The few fields of a span that run membership depends on."""

    span_id: str
    parent_span_id: str | None
    operation: str | None
    stamped_run_id: str | None


def resolve_run_ids(trace_id: str, nodes: Mapping[str, Node]) -> dict[str, str]:
    """Assign a run id to every span of trace ``trace_id`` from the spans present so far.

    A span stamped by our processor keeps its stamp, and its descendants join that run;
    spans stamped with the run of a root present without its stamp (one that had a parent)
    follow that root.
    Otherwise a span belongs to the top-most agent/workflow span on its ancestor chain, or,
    when there is none, to the top-most span present (the trace root). The answer depends
    only on which spans are present, never on arrival order, so re-resolving after more
    spans arrive converges on the same result.
    """
    # span_id -> (run_id, whether that run is rooted at an agent/workflow span)
    result: dict[str, tuple[str, bool]] = {}
    for start in nodes:
        if start in result:
            continue
        chain: list[str] = []
        seen: set[str] = set()
        above: tuple[str, bool] | None = None
        current: str | None = start
        while current is not None and current in nodes and current not in seen:
            if current in result:
                above = result[current]
                break
            node = nodes[current]
            if node.stamped_run_id:
                root = _detached_root(trace_id, node.stamped_run_id, nodes)
                if root is None or root == current:
                    above = result[current] = (node.stamped_run_id, True)
                    break
                # the stamp names a root whose own stamp was set aside: follow that root
                seen.add(current)
                chain.append(current)
                current = root
                continue
            if len(chain) >= MAX_DEPTH:
                break
            seen.add(current)
            chain.append(current)
            current = node.parent_span_id
        run = above
        for span_id in reversed(chain):
            is_run_op = nodes[span_id].operation in RUN_OPERATIONS
            if run is None or (is_run_op and not run[1]):
                run = (run_key(trace_id, span_id), is_run_op)
            result[span_id] = run
    return {span_id: run[0] for span_id, run in result.items()}


def _detached_root(trace_id: str, run_id: str, nodes: Mapping[str, Node]) -> str | None:
    """The span id of run ``run_id``'s root when it is present here without a stamp of its
    own: a root that stamped itself under a parent (``build_span_record`` sets such a stamp
    aside), so the spans stamped with its run follow wherever it resolves to."""
    if not run_id.startswith(trace_id):
        return None
    span_id = root_span_id(run_id)
    root = nodes.get(span_id)
    return span_id if root is not None and not root.stamped_run_id else None


def _usage_parents(spans: list[SpanRecord]) -> dict[str, str | None]:
    """Each usage span's nearest usage ancestor (None at the top), skipping other spans."""
    by_id = {s.span_id: s for s in spans}
    found: dict[str, str | None] = {}
    for span in spans:
        if span.category not in USAGE_CATEGORIES:
            continue
        above: str | None = None
        parent = by_id.get(span.parent_span_id or "")
        steps = 0
        while parent is not None and steps <= MAX_DEPTH and parent.span_id != span.span_id:
            if parent.category in USAGE_CATEGORIES:
                above = parent.span_id
                break
            parent = by_id.get(parent.parent_span_id or "")
            steps += 1
        found[span.span_id] = above
    return found


def call_groups(spans: Iterable[SpanRecord]) -> dict[str, list[SpanRecord]]:
    """The model calls among ``spans``: the usage spans that describe each, outermost first.

    A usage span whose subtree holds exactly one innermost usage span is one model call,
    however many instrumentations nested a span for it (a framework's LLM span, ours, the
    SDK's own). The call is keyed by its outermost such span. A usage span with two or more
    calls below it (a framework step over several calls) is in no group.
    """
    spans = list(spans)
    by_id = {s.span_id: s for s in spans}
    above = _usage_parents(spans)
    below: set[str] = {p for p in above.values() if p is not None}
    calls: dict[str, int] = dict.fromkeys(above, 0)
    for span_id in above:
        if span_id in below:
            continue
        current: str | None = span_id
        steps = 0
        while current is not None and steps <= MAX_DEPTH:
            calls[current] += 1
            current = above[current]
            steps += 1
    # (top, depth below it) of each single-call span, resolved once per span along its chain
    placed: dict[str, tuple[str, int]] = {}
    for start in above:
        chain: list[str] = []
        current: str | None = start
        while current is not None and current not in placed and calls[current] == 1:
            if len(chain) > MAX_DEPTH:
                break
            chain.append(current)
            current = above[current]
        top, depth = placed[current] if current in placed else (chain[-1] if chain else "", -1)
        for span_id in reversed(chain):
            depth += 1
            placed[span_id] = (top, depth)
    groups: dict[str, list[SpanRecord]] = {}
    for span_id, (top, _) in placed.items():
        groups.setdefault(top, []).append(by_id[span_id])
    for members in groups.values():
        members.sort(key=lambda s: (placed[s.span_id][1], s.start_ns, s.span_id))
    return groups


_FILLED = ("model", "request_model", "provider", "ttft_ms", "output_tps")
MERGED_FIELDS = (*TOKEN_FIELDS, "cost_usd", "cost_source", "cost_breakdown", *_FILLED)
"""The span fields :func:`merge_call` may change."""


def _usage_of(span: SpanRecord) -> tuple[int | None, ...]:
    return tuple(getattr(span, f) for f in TOKEN_FIELDS)


def merge_call(members: list[SpanRecord]) -> bool:
    """Give the first (outermost) span of one call the most complete usage of all its spans.

    Each token count is the largest any span reports (a smaller one left a part out, such
    as cache writes); model, provider, TTFT and throughput are the first known, outermost
    first. The cost is that of the outermost span reporting exactly the merged counts;
    otherwise the counts are priced again, and stay unpriced for an unknown model. Returns
    whether the first span changed.
    """
    head = members[0]
    before = tuple(getattr(head, f) for f in MERGED_FIELDS)
    priced = [(_usage_of(s), s.cost_usd, s.cost_source, s.cost_breakdown) for s in members]
    for name in TOKEN_FIELDS:
        known = [v for s in members if (v := getattr(s, name)) is not None]
        setattr(head, name, max(known) if known else None)
    for name in _FILLED:
        setattr(head, name, next((v for s in members if (v := getattr(s, name)) is not None), None))
    usage = _usage_of(head)
    exact = next((p for p in priced if p[1] is not None and p[0] == usage), None)
    if exact is not None:
        _, head.cost_usd, head.cost_source, head.cost_breakdown = exact
    else:
        head.cost_usd = head.cost_source = head.cost_breakdown = None
        price(head)
    return before != tuple(getattr(head, f) for f in MERGED_FIELDS)


def mark_counted(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    """Set ``counted`` on the outermost usage span of each model call (no double counting)
    and merge the call's usage onto it (:func:`merge_call`).

    Returns the spans whose usage fields the merge changed.
    """
    spans = list(spans)
    groups = call_groups(spans)
    for span in spans:
        span.counted = span.span_id in groups
    return [members[0] for members in groups.values() if len(members) > 1 and merge_call(members)]


def same_call_spans(spans: Iterable[SpanRecord]) -> set[str]:
    """Ids of the usage spans nested inside the counted span of their call: the same call
    again, which a timeline or tree presents once, at the counted span."""
    return {s.span_id for members in call_groups(spans).values() for s in members[1:]}


def _own_iterations(run_id: str, spans: list[SpanRecord]) -> set[int]:
    """Iteration indexes of the run's own loop: spans whose nearest agent ancestor is the root.

    A child agent's ``iteration()`` passes are its own; they count for the run only when the
    run's top span has no loop of its own (e.g. a workflow whose agents hand off to each other).
    """
    by_id = {s.span_id: s for s in spans}
    own: set[int] = set()
    for span in spans:
        if span.iteration is None:
            continue
        parent = by_id.get(span.parent_span_id or "")
        steps = 0
        while parent is not None and parent.operation not in RUN_OPERATIONS and steps < MAX_DEPTH:
            parent = by_id.get(parent.parent_span_id or "")
            steps += 1
        if parent is not None and is_root_of(parent, run_id):
            own.add(span.iteration)
    return own


def repeated_tool_calls(spans: list[SpanRecord]) -> set[str]:
    """Ids of tool spans that repeat a tool call already counted above them.

    One tool call can be described by two nested spans: an MCP client's ``execute_tool`` and
    the MCP server's span for the same tool, or a framework's tool span around a protocol
    client's. A tool span is a repeat when a tool span of the same name encloses it with no
    agent or workflow span in between (a tool that runs a sub-agent calling the same tool
    again is a second call).
    """
    by_id = {s.span_id: s for s in spans}
    repeats: set[str] = set()
    for span in spans:
        if span.category != "tool":
            continue
        parent = by_id.get(span.parent_span_id or "")
        steps = 0
        while parent is not None and parent.operation not in RUN_OPERATIONS and steps < MAX_DEPTH:
            if parent.category == "tool" and parent.tool_name == span.tool_name:
                repeats.add(span.span_id)
                break
            parent = by_id.get(parent.parent_span_id or "")
            steps += 1
    return repeats


_start = attrgetter("start_ns")


def compute_run(run_id: str, spans: list[SpanRecord]) -> RunRecord | None:
    """The run record for the spans of one run (``counted`` must already be marked)."""
    if not spans:
        return None
    root = next((s for s in spans if is_root_of(s, run_id)), None)
    ordered = sorted(spans, key=_start)
    first = ordered[0]  # stable sort: the first of the earliest, as min() would pick
    head = root or first
    run = RunRecord(run_id=run_id, trace_id=head.trace_id, span_count=len(spans))
    run.name = head.name
    run.agent_name = head.agent_name
    run.service_name = head.service_name
    run.start_ns = head.start_ns if root else first.start_ns
    if root is not None and root.end_ns is not None:
        run.end_ns = root.end_ns
        run.status = "error" if root.status == "error" else "ok"
    models: set[str] = set()
    named: set[str] = set()
    iterations: set[int] = set()
    ttft_start: int | None = None
    repeats = repeated_tool_calls(spans)
    for span in ordered:
        run.conversation_id = run.conversation_id or span.conversation_id
        run.user_id = run.user_id or span.user_id
        if span.status == "error":
            run.errors += 1
        if span.category == "tool" and span.span_id not in repeats:
            run.tool_calls += 1
        if span.iteration is not None:
            iterations.add(span.iteration)
        if not span.counted:
            continue
        if span.category == "llm":
            run.llm_calls += 1
        if span.model:
            models.add(span.model)
            named.add(span.model)
        if span.request_model:
            named.add(span.request_model)
        run.input_tokens += span.input_tokens or 0
        run.output_tokens += span.output_tokens or 0
        run.cache_read_tokens += span.cache_read_tokens or 0
        run.cache_write_tokens += span.cache_write_tokens or 0
        run.reasoning_tokens += span.reasoning_tokens or 0
        if span.cost_usd is None:
            run.unpriced_calls += 1
        else:
            run.cost_usd += span.cost_usd
        if span.ttft_ms is not None and ttft_start is None:
            ttft_start = span.start_ns
            run.ttft_ms = span.ttft_ms
    if root is not None:
        run.conversation_id = root.conversation_id or run.conversation_id
        run.user_id = root.user_id or run.user_id
        pid = root.resource.get("process.pid")
        run.pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        host = root.resource.get("host.name")
        run.host = host if isinstance(host, str) else None
    run.models = sorted(models)
    run.model_keys = model_keys(named)
    own = _own_iterations(run_id, spans)
    run.iterations = len(own or iterations) if iterations else run.llm_calls
    run.cost_usd = round(run.cost_usd, 12)
    return run
