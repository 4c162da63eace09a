"""Shared by the benchmarks: a do-nothing OTLP/HTTP endpoint on 127.0.0.1, in its own process.

It reads each request and answers 200 with an empty body (an empty protobuf
``ExportTraceServiceResponse``: full success), so an exporter posting to it spends only its
own CPU: encoding, HTTP, and reading the answer. Run in a separate process so its work never
competes with the exporter's thread for the GIL.
"""

from __future__ import annotations

import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector offers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_sink() -> tuple[str, subprocess.Popen]:
    """Start the endpoint; returns its traces URL and the process to stop."""
    proc = subprocess.Popen(
        [sys.executable, __file__], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        raise SystemExit("the OTLP/HTTP sink did not start")
    return f"http://127.0.0.1:{port}/v1/traces", proc


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    print(server.server_address[1], flush=True)
    server.serve_forever()
