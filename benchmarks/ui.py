"""`agentel ui` on a large store: start-up, the runs API, a 10,000-span run, and memory.

Builds (or reuses, with ``--db``) the SQLite store of benchmarks/query.py (``--spans``, default
1,000,000) plus one run of 10,000 spans, starts the real ``agentel ui`` command on it and prints:

  start    start of `agentel ui` to the first byte of its page       goal <= 1000 ms
  ready    start of `agentel ui` to its first API answer (the page      (no goal)
           shell answers first, the API once the app has loaded)
  runs     GET /api/runs (a page of 50), median of --repeat           goal <= 50 ms
  run10k   GET /api/runs/RUN/waterfall of the 10,000-span run (what   goal <= 300 ms
           its page loads: the run and its spans' waterfall fields), median
  span     GET /api/spans/TRACE/SPAN, one clicked span in full, median   (no goal)
  render   that run's page in headless Chromium until the waterfall   goal <= 1500 ms
  rss      the server's resident memory after those pages             goal <= 150 MB

    python benchmarks/ui.py [--spans 1000000] [--db PATH] [--repeat 20]

Chromium is Debian's (``/usr/bin/chromium`` or ``AGENTEL_CHROMIUM``); without it the render
figure is skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

from query import DAY, MS, _record, generate

from agentel.store import SpanRecord, open_store

GOALS = {"start": 1000.0, "runs": 50.0, "run10k": 300.0, "render": 1500.0, "rss": 150.0}
BIG_ROOT = "e" * 16
BIG_TRACE = "e" * 32


def big_run(start: int, spans: int = 10_000) -> list[SpanRecord]:
    """One run: an agent span over ``spans - 1`` tool spans, 1 ms apart."""
    records = [
        _record(BIG_ROOT, None, "invoke_agent big", start, start + spans * MS, "unset",
                **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "big"})
    ]  # fmt: skip
    for i in range(spans - 1):
        at = start + i * MS
        records.append(
            _record(f"{i:016x}", BIG_ROOT, f"execute_tool step-{i}", at, at + MS // 2, "unset",
                    **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "step"})
        )  # fmt: skip
    return [
        replace(r, trace_id=BIG_TRACE, run_id=BIG_ROOT, run_id_stamped=True, attributes={
            **r.attributes, "agentel.run.id": BIG_ROOT})
        for r in records
    ]  # fmt: skip


def prepare(path: str, spans: int) -> None:
    with open_store(f"sqlite:///{path}") as store:
        if store.runs(limit=1):
            return
        generate(store, spans)
        store.ingest(big_run(time.time_ns() - DAY))


def fetch_ms(url: str) -> float:
    begun = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
    return (time.perf_counter() - begun) * 1e3


def render_ms(url: str) -> float | None:
    chromium = os.environ.get("AGENTEL_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url.rsplit("/run/", 1)[0] + "/runs")  # warm the browser and the static files
        page.locator("#runs-table").wait_for(timeout=120_000)  # and let its queries finish
        begun = time.perf_counter()
        page.goto(url)
        page.locator("#waterfall .row").first.wait_for(timeout=60_000)
        took = (time.perf_counter() - begun) * 1e3
        browser.close()
    return took


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="keep the SQLite store here (reused)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="agentel-ui-bench-"), "store.db")
    prepare(path, args.spans)
    agentel = str(Path(sys.executable).parent / "agentel")
    begun = time.perf_counter()
    proc = subprocess.Popen(
        [agentel, "ui", "--store", f"sqlite:///{path}", "--port", "0", "--no-open"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = proc.stderr.readline().split()[2].rstrip("/")  # type: ignore[union-attr]
        fetch_ms(base + "/")
        figures = {"start": (time.perf_counter() - begun) * 1e3}
        while True:
            try:
                fetch_ms(base + "/api/meta")
                break
            except urllib.error.HTTPError as exc:  # 503 + Retry-After while it loads
                if exc.code != 503:
                    raise
                time.sleep(0.02)
        figures["ready"] = (time.perf_counter() - begun) * 1e3
        figures["runs"] = statistics.median(
            fetch_ms(base + "/api/runs?limit=50") for _ in range(args.repeat)
        )
        figures["run10k"] = statistics.median(
            fetch_ms(f"{base}/api/runs/{BIG_ROOT}/waterfall")
            for _ in range(max(3, args.repeat // 4))
        )
        figures["span"] = statistics.median(
            fetch_ms(f"{base}/api/spans/{BIG_TRACE}/{i * 499 % 9999:016x}")
            for i in range(args.repeat)
        )
        shown = render_ms(f"{base}/run/{BIG_ROOT}")
        if shown is not None:
            figures["render"] = shown
        figures["rss"] = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    with open_store(f"sqlite:///{path}") as store:
        total = len(store.spans(limit=None)) if args.spans <= 100_000 else args.spans
    print(f"agentel ui on {total:,} spans in {path}")
    for name, value in figures.items():
        unit = "MB" if name == "rss" else "ms"
        goal = GOALS.get(name)
        if goal is None:
            print(f"  {name:<7} {value:8.1f} {unit}")
            continue
        print(
            f"  {name:<7} {value:8.1f} {unit}   goal <= {goal:g} {unit}   ({value / goal:.2f} x goal)"
        )
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
