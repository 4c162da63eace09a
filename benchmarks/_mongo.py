"""Shared by the benchmarks: a MongoDB wire-protocol server to measure against."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def start_secantus() -> tuple[str, subprocess.Popen | None]:
    """``AGENTEL_TEST_MONGODB_URI`` when set, else SecantusDB (a dev dependency) on a free port;
    returns the URI and the process to stop (None when the server is not ours)."""
    given = os.environ.get("AGENTEL_TEST_MONGODB_URI")
    if given:
        return given.rstrip("/"), None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).parent / "secantusd-py"
    proc = subprocess.Popen(
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import pymongo

    deadline = time.monotonic() + 60
    uri = f"mongodb://127.0.0.1:{port}"
    while True:
        try:
            pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
            return uri, proc
        except pymongo.errors.PyMongoError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"SecantusDB did not start on port {port}") from None
            time.sleep(0.2)
