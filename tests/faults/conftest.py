"""Fault-injection helpers: child agent processes, private MongoDB servers, black holes.

The store contract fixtures (``backend``, ``open_backend``, ``store``: memory, SQLite and
MongoDB) are shared with tests/store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _free_port, _wait_for_mongodb
from tests.store.conftest import backend, open_backend, store

__all__ = ["backend", "open_backend", "store"]

CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENTEL_"))}
"""The child's environment: none of the developer's OpenTelemetry or agentel settings."""


def child_env(**extra: str) -> dict[str, str]:
    """A clean environment for a child agent process, with ``extra`` set."""
    return {**CLEAN_ENV, "PYTHONUNBUFFERED": "1", **extra}


def write_script(tmp_path: Path, code: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def run_child(
    tmp_path: Path, code: str, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a fresh Python process; fails the test on a non-zero exit."""
    script = write_script(tmp_path, code)
    out = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(**env),
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


class MongoServer:
    """A SecantusDB server of our own, on a fixed port and storage directory, so a test can
    stop it mid-run and start it again with the data it held."""

    def __init__(self, storage: Path) -> None:
        self.port = _free_port()
        self.storage = storage
        self.uri = f"mongodb://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = Path(sys.executable).parent / "secantusd-py"
        log = self.storage.parent / f"secantus-{self.port}.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(exe),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--storage-path",
                    str(self.storage),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.storage.parent,
            )
        _wait_for_mongodb(self.uri, self.proc, log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture
def own_mongodb(tmp_path: Path) -> Iterator[MongoServer]:
    """A private, started MongoDB wire-protocol server the test may stop and restart."""
    server = MongoServer(tmp_path / "mongo-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class BlackHole:
    """A TCP port that accepts connections and never answers (a hung server)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


def closed_port() -> int:
    """A port nobody listens on."""
    return _free_port()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(interval)
