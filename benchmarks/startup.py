"""``configure()`` start-up time with the provider SDKs not imported yet.

Each sample is a fresh interpreter (``python -c``), so nothing is cached between samples:
it times ``import agentel.sdk``, then ``configure("memory://")`` (every instrumentor
wanted), and says whether ``openai`` / ``anthropic`` got imported by it. For scale it also
times what ``configure()`` used to pay up front: importing ``openai`` and ``anthropic``.

    python benchmarks/startup.py [--runs 7]

Target (issue 13, item 5): ``configure()`` <= 100 ms when the SDKs are not imported yet.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

SAMPLE = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import agentel.sdk
t1, c1 = time.perf_counter(), time.process_time()
handle = agentel.sdk.configure("memory://")
t2, c2 = time.perf_counter(), time.process_time()
imported = [m for m in ("openai", "anthropic", "langchain_core", "agents") if m in sys.modules]
t3 = time.perf_counter()
import openai, anthropic
t4 = time.perf_counter()
handle.shutdown()
print(json.dumps({
    "import": t1 - t0, "configure": t2 - t1, "sdks": t4 - t3, "imported": imported,
    "import_cpu": c1 - c0, "configure_cpu": c2 - c1,
}))
"""

TARGET_MS = 100.0


def sample() -> dict:
    out = subprocess.run([sys.executable, "-c", SAMPLE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    samples = [sample() for _ in range(args.runs)]
    keys = ("import", "import_cpu", "configure", "configure_cpu", "sdks")
    ms = {k: sorted(s[k] * 1000 for s in samples) for k in keys}
    print(f"{args.runs} fresh interpreters, ms (min / median):")
    for key, label in (
        ("import", "import agentel.sdk (wall)"),
        ("import_cpu", "import agentel.sdk (CPU)"),
        ("configure", 'configure("memory://"), SDKs not imported (wall)'),
        ("configure_cpu", 'configure("memory://"), SDKs not imported (CPU)'),
        ("sdks", "import openai, anthropic (what configure() used to pay)"),
    ):
        print(f"  {label:<58} {ms[key][0]:8.1f} / {statistics.median(ms[key]):8.1f}")
    imported = sorted({m for s in samples for m in s["imported"]})
    print(f"  modules configure() imported: {', '.join(imported) or 'none'}")
    for key in ("configure", "configure_cpu"):
        best = statistics.median(ms[key])
        verdict = "met" if best <= TARGET_MS else "NOT met"
        print(f"{key} median {best:.1f} ms vs target <= {TARGET_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
