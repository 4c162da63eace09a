"""Query latency on a large store: run tree, a filtered page of runs, stats, replay.

Generates a SQLite store of ``--spans`` spans (default 1,000,000: ~100k agent runs of 10
spans, spread over the last 30 days, 5 agents, 4 models, 5 % failing, plus one 200-span run
with captured content and events), then prints the median of ``--repeat`` timings of:

  tree    store.run_tree(run)  of a random 10-span run (a different run each time)
  page    store.runs(agent=..., min_cost=..., since="7d", limit=50)
  model   store.runs(model=..., since="7d", limit=50)  (the API answers with dated models)
  stats   store.stats("model")  over the whole store
  replay  store.replay(run)  of the 200-span run

Targets on SQLite: tree <= 10 ms, page and model <= 20 ms, stats <= 1 s, replay <= 20 ms. The same
operations run on MongoDB (SecantusDB, in-memory) with ``--mongodb-spans`` spans.

Spans are built the way every ingest path builds them (``build_span_record``: normalization
and pricing) once per template, then copied with new ids and times, and written through
the real ``Store.ingest`` in batches, so the store holds exactly what exporters would write.

    python benchmarks/query.py [--spans 1000000] [--mongodb-spans 100000] [--repeat 20]
                               [--db PATH] [--mongodb-uri URI | --no-mongodb]

``--db PATH`` keeps the generated file and reuses it when it already holds the spans asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from _mongo import start_secantus
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agentel.store import SpanRecord, Store, build_span_record, open_store

MS = 1_000_000
DAY = 86_400 * 1000 * MS
AGENTS = ("planner", "coder", "researcher", "support", "triage")
MODELS = (
    ("gpt-4o-mini", "openai"),
    ("gpt-4o", "openai"),
    ("claude-sonnet-4-5", "anthropic"),
    ("claude-haiku-4-5", "anthropic"),
)
DATED = {"gpt-4o-mini": "gpt-4o-mini-2024-07-18", "gpt-4o": "gpt-4o-2024-08-06"}
"""The response model the real API answers a request for these with."""
SIZES = ((400, 60), (1200, 150), (3000, 400), (8000, 900))
STEPS = 4  # chat + tool pairs before the final chat: 10 spans per run
BATCH = 20_000
TARGETS = {"tree": 10.0, "page": 20.0, "model": 20.0, "stats": 1000.0, "replay": 20.0}


LONG_TRACE = "0" * 31 + "1"
LONG_RUN = LONG_TRACE + "f" * 16
"""The 200-span run's id (run ids are the trace id and the root span id)."""


def _record(
    span_id: str, parent: str | None, name: str, start: int, end: int, status: str, **attrs: Any
) -> SpanRecord:
    return build_span_record(
        trace_id=LONG_TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind="internal" if parent is None or "tool" in name else "client",
        start_ns=start,
        end_ns=end,
        status=status,
        status_message="tool failed" if status == "error" else None,
        attributes=attrs,
        resource={"service.name": "bench", "process.pid": 4242, "host.name": "bench-host"},
        scope="agentel",
    )


def template(agent: str, model: str, provider: str, size: tuple[int, int], failed: bool) -> list:
    """One 10-span run (relative times, placeholder ids): agent > 4 x (chat, tool) + chat."""
    root = "r" * 16
    spans = [
        _record(root, None, f"invoke_agent {agent}", 0, 4_000 * MS, "error" if failed else "unset",
                **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                   "gen_ai.request.model": model})
    ]  # fmt: skip
    at = 5 * MS
    for step in range(STEPS + 1):
        inp, out = size[0] + 100 * step, size[1]
        spans.append(
            _record(f"c{step}".ljust(16, "0"), root, f"chat {model}", at, at + 600 * MS, "unset",
                    **{"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                       "gen_ai.request.model": model, "gen_ai.request.temperature": 0.2,
                       "gen_ai.response.model": DATED.get(model, model), "gen_ai.response.id": "resp",
                       "gen_ai.response.finish_reasons": ["tool_calls"],
                       "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
                       "server.address": "api.example.com", "agentel.iteration": step})
        )  # fmt: skip
        at += 610 * MS
        if step < STEPS:
            bad = failed and step == STEPS - 1
            spans.append(
                _record(f"t{step}".ljust(16, "0"), root, "execute_tool search", at, at + 80 * MS,
                        "error" if bad else "unset",
                        **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search",
                           "gen_ai.tool.call.id": f"call_{step}", "agentel.iteration": step})
            )  # fmt: skip
            at += 90 * MS
    return spans


def long_run(start: int) -> list[SpanRecord]:
    """The 200-span run: agent > 99 x (chat with content, tool with content) + chat."""
    root = "f" * 16
    content = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Plan my trip"}]}])
    spans = [
        _record(root, None, "invoke_agent planner", start, start + 200_000 * MS, "unset",
                **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner",
                   "agentel.run.id": root})
    ]  # fmt: skip
    spans[0].events = [
        {"name": "agentel.plan", "timestamp": start + MS, "attributes": {"steps": ["a", "b"]}}
    ]
    at = start + 10 * MS
    for i in range(100):
        spans.append(
            _record(f"{i:04d}".ljust(16, "a"), root, "chat gpt-4o", at, at + 900 * MS, "unset",
                    **{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                       "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 2000 + i,
                       "gen_ai.usage.output_tokens": 100, "gen_ai.input.messages": content,
                       "agentel.run.id": root, "agentel.iteration": i})
        )  # fmt: skip
        at += 1000 * MS
        if i < 99:
            spans.append(
                _record(f"{i:04d}".ljust(16, "b"), root, "execute_tool search", at, at + 50 * MS,
                        "unset", **{"gen_ai.operation.name": "execute_tool",
                                    "gen_ai.tool.name": "search",
                                    "gen_ai.tool.call.arguments": '{"q": "flights"}',
                                    "gen_ai.tool.call.result": "3 flights", "agentel.run.id": root})
            )  # fmt: skip
            at += 100 * MS
    return spans


def generate(store: Store, spans: int, seed: int = 1) -> None:
    """Fill ``store`` with ~``spans`` spans through ``Store.ingest`` (progress bar on stderr)."""
    rng = random.Random(seed)
    templates = [
        template(agent, model, provider, size, failed)
        for agent in AGENTS
        for model, provider in MODELS
        for size in SIZES
        for failed in (False, True)
    ]
    per_run = len(templates[0])
    now = time.time_ns()
    runs = max(1, (spans - 200) // per_run)

    def copies() -> Iterator[SpanRecord]:
        for n in range(runs):
            failed = rng.random() < 0.05
            spans_ = templates[rng.randrange(len(templates) // 2) * 2 + failed]
            trace_id = f"{rng.getrandbits(128):032x}"
            prefix = f"{n:010x}"
            run_id = prefix + "000000"
            start = now - rng.randrange(30 * DAY)
            for s in spans_:
                span_id = run_id if s.parent_span_id is None else prefix + s.span_id[:6]
                yield replace(
                    s,
                    trace_id=trace_id,
                    span_id=span_id,
                    parent_span_id=None if s.parent_span_id is None else run_id,
                    start_ns=start + s.start_ns,
                    end_ns=start + s.end_ns,
                    run_id=trace_id + run_id,
                    run_id_stamped=True,
                    attributes={**s.attributes, "agentel.run.id": run_id},
                )

    progress = Progress(
        TextColumn("generating {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=None,
        disable=not sys.stderr.isatty(),
    )
    total = runs * per_run + 200
    with progress:
        task = progress.add_task(f"{total:,} spans", total=total)
        batch: list[SpanRecord] = long_run(now - DAY)
        for record in copies():
            batch.append(record)
            if len(batch) >= BATCH:
                store.ingest(batch)
                progress.advance(task, len(batch))
                batch = []
        if batch:
            store.ingest(batch)
            progress.advance(task, len(batch))


def median_ms(fn: Callable[[int], object], repeat: int) -> float:
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def measure(store: Store, repeat: int) -> dict[str, float]:
    sample = [r["run_id"] for r in store.runs(limit=200, offset=100)]
    sample = [r for r in sample if r != LONG_RUN]
    page = store.runs(agent="planner", min_cost=0.001, since="7d", limit=50)
    assert len(page) == 50, f"the page filter found only {len(page)} runs"
    by_family = store.runs(model="gpt-4o", since="7d", limit=50)
    assert len(by_family) == 50, f"the model filter found only {len(by_family)} runs"
    assert not any("mini" in m for r in by_family for m in r["models"]), "gpt-4o-mini matched"
    replay = store.replay(LONG_RUN)
    assert len(replay) >= 400, len(replay)
    return {
        "tree": median_ms(lambda i: store.run_tree(sample[i % len(sample)]), repeat),
        "page": median_ms(
            lambda i: store.runs(agent=AGENTS[i % 3], min_cost=0.001, since="7d", limit=50), repeat
        ),
        "model": median_ms(
            lambda i: store.runs(model=MODELS[i % len(MODELS)][0], since="7d", limit=50), repeat
        ),
        "stats": median_ms(lambda i: store.stats("model"), max(3, repeat // 4)),
        "replay": median_ms(lambda i: store.replay(LONG_RUN), repeat),
    }


def report(
    title: str, spans: int, seconds: float, figures: dict[str, float], targets: bool
) -> None:
    print(f"\n{title}: {spans:,} spans (generated and ingested in {seconds:.0f} s)")
    print(f"{'operation':<8} {'median ms':>10} {'target ms':>10}  met")
    for name, value in figures.items():
        target = TARGETS[name]
        met = ("yes" if value <= target else "no") if targets else "-"
        print(f"{name:<8} {value:>10.2f} {target if targets else '-':>10}  {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--mongodb-spans", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", default=None, help="keep the SQLite store here (reused)")
    parser.add_argument("--mongodb-uri", default=None)
    parser.add_argument("--no-mongodb", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or os.path.join(tmp, "query.db")
        store = open_store(f"sqlite:///{path}")
        held = store.conn.execute("SELECT count(*) FROM spans").fetchone()[0]  # type: ignore[attr-defined]
        generated = None
        if held < args.spans - 200:
            if held:
                raise SystemExit(f"{path} holds {held:,} spans; remove it or pass another --db")
            t0 = time.perf_counter()
            generate(store, args.spans)
            generated = time.perf_counter() - t0
        spans = store.conn.execute("SELECT count(*) FROM spans").fetchone()[0]  # type: ignore[attr-defined]
        report("SQLite", spans, generated, measure(store, args.repeat), targets=True)
        store.close()

    if args.no_mongodb:
        return
    server, proc = (args.mongodb_uri.rstrip("/"), None) if args.mongodb_uri else start_secantus()
    url = f"{server}/agentel_bench_{uuid.uuid4().hex[:8]}"
    try:
        store = open_store(url)
        t0 = time.perf_counter()
        generate(store, args.mongodb_spans)
        generated = time.perf_counter() - t0
        spans = store._spans.count_documents({})  # type: ignore[attr-defined]
        report("MongoDB (SecantusDB)", spans, generated, measure(store, args.repeat), targets=False)
        store._client.drop_database(url.rsplit("/", 1)[1])  # type: ignore[attr-defined]
        store.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
