"""Does a silent OTLP collector slow the agent? Wall time of the same agent work with OTLP off,
and with OTLP pointed at a socket that accepts connections and never answers.

Each configuration runs in a fresh process (configure() owns the global provider). The agent
is examples/weather_agent.py against the scripted server. Target: within 5% of OTLP off.

    python benchmarks/otlp_slow_collector.py [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import importlib.util, json, sys, time
import openai
import agentel.sdk
from agentel.testing import ScriptedLLMServer

spec = importlib.util.spec_from_file_location("weather", sys.argv[1])
weather = importlib.util.module_from_spec(spec); spec.loader.exec_module(weather)
otlp = sys.argv[3] or False
handle = agentel.sdk.configure(sys.argv[2], otlp=otlp, instrument=["openai"])
with ScriptedLLMServer() as server:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    weather.run_agent(client, "Weather in Paris?")  # warm-up
    started = time.perf_counter()
    for i in range(int(sys.argv[4])):
        weather.run_agent(client, "Weather in Paris?")
    elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed}))
import os; os._exit(0)  # measure the agent, not the exit flush
"""


def black_hole() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener


def measure(otlp: str, runs: int, workdir: Path) -> float:
    store = f"sqlite:///{workdir / f'bench-{len(list(workdir.iterdir()))}.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            WORKER,
            str(ROOT / "examples/weather_agent.py"),
            store,
            otlp,
            str(runs),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="agent runs per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per configuration")
    args = parser.parse_args()
    listener = black_hole()
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        off, on = [], []
        for _ in range(args.repeat):  # interleave so drift hits both alike
            off.append(measure("", args.runs, workdir))
            on.append(measure(silent, args.runs, workdir))
    base, slow = statistics.median(off), statistics.median(on)
    # each pair ran back to back, so its ratio is immune to the machine drifting between pairs
    pairs = sorted(b / a for a, b in zip(off, on, strict=True))
    print(f"agent runs per measurement: {args.runs}, measurements: {args.repeat}")
    print(f"OTLP off:                  {base * 1000 / args.runs:8.3f} ms/run (median)")
    print(f"OTLP to a silent collector:{slow * 1000 / args.runs:8.3f} ms/run (median)")
    print(f"ratio of medians: {slow / base:.3f}")
    print(
        f"median of paired ratios: {statistics.median(pairs):.3f} "
        f"(range {pairs[0]:.3f}-{pairs[-1]:.3f}; target <= 1.05)"
    )
    listener.close()


if __name__ == "__main__":
    main()
