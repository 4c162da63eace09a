"""`agentel ui` as a server: the token rules, the Host check, the real command starting,
answering and stopping on Ctrl-C, and a slow query not holding up other requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from agentel.store.memory import MemoryStore
from agentel.ui import UIConfig, create_app
from agentel.ui.app import TOKEN_COOKIE
from agentel.ui.server import Prelude, bind
from agentel.ui.shell import CSP, STATIC

from .conftest import running_ui

AGENTEL = str(Path(sys.executable).parent / "agentel")


@pytest.fixture
def guarded(agent_store):
    with TestClient(create_app(UIConfig(store_url=agent_store, token="s3cret"))) as client:
        yield client


def test_with_a_token_every_page_api_and_file_needs_it(guarded):
    for path in ("/", "/runs", "/run/abc", "/stats", "/api/runs", "/api/meta", "/static/app.js"):
        response = guarded.get(path)
        assert response.status_code == 401, path
        assert "token" in response.text
    assert guarded.get("/api/runs", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/api/runs", headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert guarded.get("/api/runs?token=s3cret").status_code == 200
    assert guarded.get("/api/runs?token=s3cre").status_code == 401


def test_opening_the_printed_url_sets_a_cookie_and_drops_the_token_from_the_address(guarded):
    first = guarded.get("/runs?agent=x&token=s3cret", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/runs?agent=x"
    cookie = first.headers["set-cookie"]
    assert f"{TOKEN_COOKIE}=s3cret" in cookie and "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    guarded.cookies.set(TOKEN_COOKIE, "s3cret")
    assert guarded.get("/runs?agent=x").status_code == 200
    assert guarded.get("/api/runs").status_code == 200
    guarded.cookies.clear()
    guarded.cookies.set(TOKEN_COOKIE, "guess")
    assert guarded.get("/api/runs").status_code == 401


def test_otlp_traces_are_received_with_the_same_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
        ],
    }
    body = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    config = UIConfig(store_url=url, token="s3cret", receiver=True)
    with TestClient(create_app(config)) as client:
        assert client.post("/v1/traces", json=body).status_code == 401
        sent = client.post("/v1/traces", json=body, headers={"authorization": "Bearer s3cret"})
        assert sent.status_code == 200, sent.text
        runs = client.get("/api/runs", headers={"authorization": "Bearer s3cret"}).json()["runs"]
    assert [r["input_tokens"] for r in runs] == [100]


def test_requests_for_another_host_name_are_refused(agent_store):
    config = UIConfig(store_url=agent_store, allowed_hosts=frozenset({"127.0.0.1", "localhost"}))
    with TestClient(create_app(config)) as client:
        assert client.get("/api/runs", headers={"host": "evil.example:6007"}).status_code == 421
        assert client.get("/", headers={"host": "rebind.attacker"}).status_code == 421
        assert client.get("/api/runs", headers={"host": "127.0.0.1:6007"}).status_code == 200
        assert client.get("/api/runs", headers={"host": "localhost"}).status_code == 200


def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [AGENTEL, "ui", "--port", "0", "--no-open", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    line = proc.stderr.readline()
    if not line:
        proc.wait(10)
        raise AssertionError(f"agentel ui exited {proc.returncode}: {proc.stderr.read()}")
    return proc, line


def test_a_public_host_needs_a_token(agent_store):
    env = {k: v for k, v in os.environ.items() if k != "AGENTEL_UI_TOKEN"}
    done = subprocess.run(
        [AGENTEL, "ui", "--store", agent_store, "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without a token" in done.stderr
    proc, line = _start(
        "--store", agent_store, "--host", "0.0.0.0", env={"AGENTEL_UI_TOKEN": "t0k"}
    )
    try:
        assert "?token=t0k" in line
        port = line.split("0.0.0.0:")[1].split("/")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=10)
        assert refused.value.code == 401
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/runs", headers={"Authorization": "Bearer t0k"}
        )
        assert urllib.request.urlopen(request, timeout=10).status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)


def _when_ready(url: str) -> int:
    """The status of GET ``url`` once the app answers it (503 + Retry-After while starting)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                return exc.code
            assert exc.headers["retry-after"] == "1"
            assert "starting" in exc.read().decode()
        time.sleep(0.1)


def test_the_command_prints_its_url_serves_and_stops_on_ctrl_c(agent_store):
    started = time.monotonic()
    proc, line = _start("--store", agent_store)
    try:
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b'src="/static/app.js"' in page.read()
        assert _when_ready(url + "api/runs") == 200
        assert time.monotonic() - started < 30
        evil = urllib.request.Request(url + "api/runs", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(evil, timeout=10)
        assert refused.value.code == 421
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    assert "Traceback" not in proc.stderr.read()


def test_the_page_answers_while_the_app_loads_then_the_app_takes_over(tmp_path):
    config = UIConfig(store_url="memory://", allowed_hosts=frozenset({"127.0.0.1"}))
    sock = bind("127.0.0.1", 0)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    prelude = Prelude(sock, config)
    prelude.start()
    try:
        for path in ("/", "/runs?agent=x", "/run/abc%2Fdef"):
            with urllib.request.urlopen(base + path, timeout=10) as page:
                body = page.read().decode()
                assert page.headers["content-security-policy"] == CSP
                assert page.headers["connection"] == "close"
            assert config.csrf in body and 'src="/static/app.js"' in body
        with urllib.request.urlopen(base + "/static/run.js", timeout=10) as script:
            assert script.headers["content-type"].startswith("text/javascript")
            assert script.read() == (STATIC / "run.js").read_bytes()
        for path, code in (
            ("/api/runs", 503),
            ("/v1/traces", 503),
            ("/static/../app.py", 404),
            ("/static/%2e%2e/app.py", 404),
            ("/static/missing.js", 404),
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == code, path
        assert refused.value.headers["content-security-policy"] == CSP
        posted = urllib.request.Request(base + "/v1/traces", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(posted, timeout=10)
        assert refused.value.code == 503 and refused.value.headers["retry-after"] == "1"
        evil = urllib.request.Request(base + "/", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(evil, timeout=10)
        assert refused.value.code == 421
    finally:
        prelude.stop()
    assert not prelude.is_alive()
    sock.settimeout(0.3)  # stopped: connections wait for whoever accepts next
    client = socket.create_connection(sock.getsockname(), timeout=5)
    conn, _ = sock.accept()
    conn.close()
    client.close()
    sock.close()


class SlowStats(MemoryStore):
    """A store whose stats wait until released: stands for a query over a huge range."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def _stats(self, by, since_ns, until_ns):
        self.entered.set()
        self.release.wait(30)
        return super()._stats(by, since_ns, until_ns)


def test_a_slow_query_does_not_block_other_requests():
    store = SlowStats()
    with running_ui(UIConfig(store=store)) as base:
        slow: list[int] = []
        waiter = threading.Thread(
            target=lambda: slow.append(
                urllib.request.urlopen(f"{base}/api/stats", timeout=40).status
            )
        )
        waiter.start()
        try:
            assert store.entered.wait(20)
            begun = time.monotonic()
            with urllib.request.urlopen(f"{base}/api/runs", timeout=10) as answer:
                assert answer.status == 200
            assert time.monotonic() - begun < 5 and not slow  # answered while stats waits
        finally:
            store.release.set()
            waiter.join(20)
        assert slow == [200]
