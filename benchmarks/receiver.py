"""`agentel receive` under load: throughput and peak RSS with N concurrent posters.

Starts the real CLI receiver on a fresh SQLite store, then N threads (default 10) each post
the same OTLP/JSON body of about ``--body-mb`` MB (default 10; spans with GenAI attributes
and a 1 KB string each, new ids per request) ``--requests`` times. Posts go through
``requests`` (as the OTel OTLP/HTTP exporter does); a 503 is retried after its
``Retry-After``. Prints spans/s, MB/s, the 503 count and the
receiver's peak RSS (VmHWM) next to its idle RSS.

    python benchmarks/receiver.py [--posters 10] [--body-mb 10] [--requests 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

AGENTEL = shutil.which("agentel", path=str(Path(sys.executable).parent)) or "agentel"


def body_for(poster: int, request: int, spans: int) -> bytes:
    trace = f"{poster:08x}{request:08x}".ljust(32, "1")
    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "80"}},
        {"key": "app.note", "value": {"stringValue": "x" * 1024}},
    ]
    items = [
        {
            "traceId": trace,
            "spanId": f"{number + 1:016x}",
            "parentSpanId": "0000000000000001" if number else "",
            "name": "chat gpt-4o-mini",
            "startTimeUnixNano": str(1_700_000_000_000_000_000 + number),
            "endTimeUnixNano": str(1_700_000_000_000_500_000 + number),
            "attributes": attributes,
        }
        for number in range(spans)
    ]
    document = {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "bench"}, "spans": items}]}]}
    return json.dumps(document).encode()


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=10)
    parser.add_argument("--body-mb", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=3, help="requests per poster")
    args = parser.parse_args()

    spans_per_body = int(args.body_mb * 1024 * 1024 / 1600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = Path(tempfile.mkdtemp(prefix="agentel-bench-receiver-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
    server = subprocess.Popen(
        [AGENTEL, "receive", "--store", f"sqlite:///{workdir / 'bench.db'}", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/v1/traces"
    busy = 0
    failures: list[str] = []
    lock = threading.Lock()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("agentel receive did not start") from None
                time.sleep(0.05)
        idle_kb = rss_kb(server.pid, "VmRSS")
        bodies = {
            (p, r): body_for(p, r, spans_per_body)
            for p in range(args.posters)
            for r in range(args.requests)
        }
        size_mb = len(bodies[(0, 0)]) / 1024 / 1024

        def poster(number: int) -> None:
            nonlocal busy
            for request in range(args.requests):
                data = bodies[(number, request)]
                while True:
                    response = requests.post(
                        url, data=data, headers={"Content-Type": "application/json"}, timeout=300
                    )
                    if response.status_code == 200:
                        break
                    if response.status_code != 503:
                        with lock:
                            failures.append(f"HTTP {response.status_code}: {response.text[:200]}")
                        return
                    with lock:
                        busy += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))

        threads = [threading.Thread(target=poster, args=(n,)) for n in range(args.posters)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        peak_kb = rss_kb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.communicate(timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    total = args.posters * args.requests
    print(f"{args.posters} posters x {args.requests} requests of {size_mb:.1f} MB")
    print(f"({spans_per_body} spans each) into SQLite through `agentel receive` (defaults:")
    print("16 MB body limit, 64 MB in flight)")
    print(f"  elapsed              {elapsed:8.1f} s")
    print(f"  throughput           {total * spans_per_body / elapsed:8.0f} spans/s")
    print(f"                       {total * size_mb / elapsed:8.1f} MB/s")
    print(f"  503 + Retry-After    {busy:8d} answers (retried)")
    print(f"  receiver RSS idle    {idle_kb / 1024:8.0f} MB")
    print(f"  receiver RSS peak    {peak_kb / 1024:8.0f} MB")
    if failures:
        print("  FAILURES:", *failures, sep="\n    ")
        sys.exit(1)


if __name__ == "__main__":
    main()
