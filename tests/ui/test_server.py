"""`agentel ui` as a server: the token rules, the Host check, the real command starting,
answering and stopping on Ctrl-C, and a slow query not holding up other requests."""

from __future__ import annotations

import os
import signal
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


def test_the_command_prints_its_url_serves_and_stops_on_ctrl_c(agent_store):
    started = time.monotonic()
    proc, line = _start("--store", agent_store)
    try:
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b'src="/static/app.js"' in page.read()
        with urllib.request.urlopen(url + "api/runs", timeout=10) as answer:
            assert answer.status == 200
        assert time.monotonic() - started < 30
        evil = urllib.request.Request(url + "api/runs", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(evil, timeout=10)
        assert refused.value.code == 421
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    assert "Traceback" not in proc.stderr.read()


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
