"""The span rate a configured agent sustains into SQLite with zero drops.

Each step runs a fresh process with ``agentel.sdk.configure("sqlite:///...")`` and its
default batch settings (queue 32,768, batches of 2,048, every 1 s). 4 threads end spans at
a fixed total rate (runs of 1 agent span + 4 child spans) for ``--seconds``; the process then
flushes and reports ``failed_spans``. Rates double until a step drops spans. Then the
flat-out case of issue 14: 4 threads x 25,000 spans as fast as they can, ended / stored /
dropped, with agentel's defaults and with the SDK's (2,048 / 512 / 5 s).

    python benchmarks/drops.py [--seconds 10] [--start 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sqlite3, sys, threading, time
    from opentelemetry import trace
    import agentel.sdk

    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    handle = agentel.sdk.configure(url, instrument=None)
    tracer = trace.get_tracer("bench")
    THREADS, PER_RUN = 4, 5
    total = int(rate * seconds) // (THREADS * PER_RUN) if rate else 5_000

    def work(number):
        interval = THREADS * PER_RUN / rate if rate else 0.0
        due = time.perf_counter()
        for run in range(total):
            with tracer.start_as_current_span(
                "invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent",
                                            "gen_ai.agent.name": f"t{number}"}):
                for _ in range(PER_RUN - 1):
                    with tracer.start_as_current_span("step"):
                        pass
            due += interval
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    handle.force_flush(120_000)
    failed = handle.exporter.failed_spans
    handle.shutdown()
    path = url.removeprefix("sqlite:///")
    stored = sqlite3.connect(path).execute(
        "SELECT count(*) FROM spans WHERE end_ns IS NOT NULL").fetchone()[0]
    print(json.dumps({"ended": total * THREADS * PER_RUN, "elapsed": elapsed,
                      "failed": failed, "stored": stored}))
    """
)


SDK_DEFAULTS = {
    "OTEL_BSP_MAX_QUEUE_SIZE": "2048",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "512",
    "OTEL_BSP_SCHEDULE_DELAY": "5000",
}


def step(workdir: Path, rate: float, seconds: float, sdk: bool = False) -> dict[str, float]:
    db = workdir / f"rate-{int(rate)}-{sdk}.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
    env.update(SDK_DEFAULTS if sdk else {})
    out = subprocess.run(
        [sys.executable, "-c", CHILD, f"sqlite:///{db}", str(rate), str(seconds)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=900,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--start", type=float, default=2000.0, help="first rate, spans/s")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="agentel-bench-drops-"))
    print(f"{'target spans/s':>15} {'achieved':>9} {'ended':>8} {'stored':>8} {'dropped':>8}")
    rate, best = args.start, 0.0
    while True:
        result = step(workdir, rate, args.seconds)
        achieved = result["ended"] / result["elapsed"]
        print(
            f"{rate:15.0f} {achieved:9.0f} {result['ended']:8d} {result['stored']:8d} "
            f"{result['failed']:8d}"
        )
        if result["failed"]:
            why = "the first step with drops"
            break
        best = achieved
        if achieved < 0.9 * rate:
            why = "the 4 threads could not end spans any faster on this machine"
            break
        rate *= 2
    flat = step(workdir, 0, 0)
    print(f"sustained with zero drops: {best:.0f} spans/s (4 threads, SQLite, defaults);")
    print(f"  stopped at {rate:.0f}: {why}")
    for name, result in (("agentel defaults", flat), ("SDK defaults", step(workdir, 0, 0, True))):
        print(
            f"flat out, 4 threads x 25,000 spans, {name}: "
            f"{result['ended'] / result['elapsed']:.0f} spans/s ended; stored {result['stored']}, "
            f"dropped {result['failed']}, stored + dropped = "
            f"{result['stored'] + result['failed']} of {result['ended']}"
        )


if __name__ == "__main__":
    main()
