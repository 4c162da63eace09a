"""Hostile and broken clients of ``agentel receive``: every request gets an answer.

Each input of issue 14 item 7 is sent over a real socket to a real receiver (uvicorn +
Starlette) writing into a real store; the answer is checked, and so is that the receiver
still serves the next client. Span-level cases run on memory, SQLite and MongoDB.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import requests

from agentel.sdk.receiver import OTLPReceiver
from agentel.store import Store, open_store

TRACE = "ab" * 16


def span(number: int, **fields: object) -> dict[str, object]:
    return {
        "traceId": TRACE,
        "spanId": f"{number:016x}",
        "name": f"span {number}",
        "startTimeUnixNano": "1000",
        "endTimeUnixNano": "2000",
        **fields,
    }


def document(*spans: object) -> dict[str, object]:
    return {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def raw_request(
    address: tuple[str, int], head: bytes, body: bytes = b"", timeout: float = 10
) -> bytes:
    """Send ``head`` (and ``body``) on a fresh socket; everything the server sends back."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def receiver(store: Store) -> Iterator[OTLPReceiver]:
    with OTLPReceiver(store, port=0, max_body_bytes=256 * 1024) as running:
        yield running


@pytest.fixture
def small(tmp_path) -> Iterator[OTLPReceiver]:
    """A SQLite receiver with small limits: 64 KB bodies, 100 KB in flight, 0.5 s reads."""
    store = open_store(f"sqlite:///{tmp_path / 'small.db'}")
    with OTLPReceiver(
        store, port=0, max_body_bytes=64 * 1024, max_inflight_bytes=100 * 1024, read_timeout=0.5
    ) as running:
        yield running
    store.close()


def still_serves(receiver: OTLPReceiver, number: int = 999) -> None:
    status, answer = post(receiver.endpoint, json.dumps(document(span(number))).encode())
    assert (status, answer) == (200, {})
    assert any(s["span_id"] == f"{number:016x}" for s in receiver.store.spans(trace_id=TRACE))


def test_json_nested_10k_levels_is_a_400(receiver):
    body = b'{"resourceSpans": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    status, answer = post(receiver.endpoint, body)
    assert status == 400 and "nested too deeply" in answer["message"]
    still_serves(receiver)


def test_an_overflowing_number_rejects_its_span_and_keeps_the_valid_one(receiver):
    body = json.dumps(document(span(1), span(2, name="huge", startTimeUnixNano="NUMBER")))
    body = body.replace('"NUMBER"', "1e400").encode()
    status, answer = post(receiver.endpoint, body)
    assert status == 200
    assert answer["partialSuccess"]["rejectedSpans"] == "1"
    assert "huge" in answer["partialSuccess"]["errorMessage"]
    assert [s["name"] for s in receiver.store.spans(trace_id=TRACE)] == ["span 1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"resourceSpans": 5}', "resourceSpans must be a list"),
        (b'["x"]', "JSON object"),
        (b"5", "JSON object"),
        (b"", "not valid JSON"),
    ],
)
def test_a_request_of_the_wrong_shape_is_a_400(receiver, body, message):
    status, answer = post(receiver.endpoint, body)
    assert status == 400 and message in answer["message"]
    still_serves(receiver)


def test_structurally_bad_spans_are_rejected_one_by_one(receiver):
    bad_spans = [
        1,
        "x",
        span(3, spanId="nothex!!"),
        span(4, attributes=5),
        span(5, events=[1]),
        span(6, status="x"),
        span(7, attributes=[{"key": "n", "value": {"intValue": 1e400}}]),
    ]
    good = [span(10), span(11, attributes=[{"key": "d", "value": {"doubleValue": 1e400}}])]
    doc = {
        "resourceSpans": [
            {"scopeSpans": [1, {"spans": [*bad_spans, good[0]]}, {"spans": 7}]},
            2,
            {"resource": 5, "scopeSpans": [{"scope": 3, "spans": [good[1]]}]},
        ]
    }
    status, answer = post(receiver.endpoint, json.dumps(doc).encode())
    assert status == 200
    # 7 bad spans, scopeSpans [1], spans 7, resourceSpans [2]
    assert answer["partialSuccess"]["rejectedSpans"] == "10"
    stored = {s["name"]: s for s in receiver.store.spans(trace_id=TRACE)}
    assert sorted(stored) == ["span 10", "span 11"]
    assert stored["span 11"]["attributes"]["d"] == "inf"


def test_invalid_utf8_is_repaired_per_span(receiver):
    body = json.dumps(document(span(1, name="NAME", attributes=[
        {"key": "k", "value": {"stringValue": "VALUE"}}]), span(2))).encode()  # fmt: skip
    body = body.replace(b"NAME", b"bad \xff\xfe name").replace(b"VALUE", b"caf\xc3 \x80")
    status, answer = post(receiver.endpoint, body)
    assert (status, answer) == (200, {})
    stored = {s["span_id"]: s for s in receiver.store.spans(trace_id=TRACE)}
    assert stored[f"{1:016x}"]["name"] == "bad \ufffd\ufffd name"
    assert stored[f"{1:016x}"]["attributes"]["k"] == "caf\ufffd \ufffd"
    assert stored[f"{2:016x}"]["name"] == "span 2"


def head(receiver: OTLPReceiver, *lines: str) -> bytes:
    host, port = receiver.address
    text = "\r\n".join(
        [
            "POST /v1/traces HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            *lines,
        ]
    )
    return (text + "\r\n\r\n").encode()


def test_413_is_sent_before_the_body_is_read(small):
    # Only the headers are sent: the answer comes without a byte of the 200 MB body.
    answer = raw_request(small.address, head(small, "Content-Length: 209715200"))
    assert status_of(answer) == 413 and b"exceeds the 65536-byte limit" in answer
    still_serves(small)


def test_content_length_minus_one_is_refused_without_reading(small):
    answer = raw_request(small.address, head(small, "Content-Length: -1"), b"x" * 100_000)
    assert status_of(answer) == 400
    still_serves(small)


def test_a_chunked_body_is_cut_at_the_limit(small):
    chunk = b"x" * 16_384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    answer = raw_request(small.address, head(small, "Transfer-Encoding: chunked"), body)
    assert status_of(answer) == 413 and b"exceeds the 65536-byte limit" in answer
    still_serves(small)


def test_a_client_sending_a_too_large_body_gets_the_413(small):
    response = requests.post(
        small.endpoint, data=b"x" * (10 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_too_many_bytes_in_flight_waits_then_is_a_503_with_retry_after(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'budget.db'}")
    with OTLPReceiver(
        store, port=0, max_body_bytes=64 * 1024, max_inflight_bytes=100 * 1024, read_timeout=1.0
    ) as receiver:
        body = json.dumps(document(span(5))).encode().ljust(61440)
        first = socket.create_connection(receiver.address, timeout=10)
        # 60 KB announced and sent a byte every 0.2 s: held against the 100 KB budget.
        first.sendall(head(receiver, "Content-Length: 61440"))

        def trickle() -> None:
            for byte in range(8):
                first.sendall(body[byte : byte + 1])
                time.sleep(0.2)

        dripping = threading.Thread(target=trickle)
        dripping.start()
        try:
            time.sleep(0.2)
            started = time.monotonic()
            answer = raw_request(receiver.address, head(receiver, "Content-Length: 61440"))
            assert status_of(answer) == 503
            assert time.monotonic() - started >= 0.9  # it waited read_timeout for room first
            assert b"retry-after: 1" in answer.lower()
            dripping.join()
            first.sendall(body[8:])
            assert status_of(first.recv(65536)) == 200
        finally:
            dripping.join()
            first.close()
        # Once the bytes are released, the same request is taken.
        assert post(receiver.endpoint, json.dumps(document(span(6))).encode())[0] == 200
        assert receiver.traces.inflight_bytes == 0
    store.close()


def test_requests_waiting_for_room_are_taken_when_room_frees_up(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'wait.db'}")
    results: list[int] = []
    body = json.dumps(document(span(7))).encode().ljust(60_000)
    with OTLPReceiver(
        store, port=0, max_body_bytes=64 * 1024, max_inflight_bytes=100 * 1024, read_timeout=10
    ) as receiver:

        def poster() -> None:
            results.append(post(receiver.endpoint, body)[0])

        threads = [threading.Thread(target=poster) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    store.close()
    assert results == [200] * 6


def test_a_stalled_body_gets_a_408_and_frees_its_bytes(small):
    answer = raw_request(small.address, head(small, "Content-Length: 1000"), b'{"resour')
    assert status_of(answer) == 408
    assert small.traces.inflight_bytes == 0
    still_serves(small)


def test_a_silent_connection_is_closed(small):
    with socket.create_connection(small.address, timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - started < 8


def test_many_simultaneous_posters_are_all_answered(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'many.db'}")
    results: list[int] = []
    with OTLPReceiver(store, port=0) as receiver:
        barrier = threading.Barrier(50)

        def poster(number: int) -> None:
            barrier.wait()
            results.append(post(receiver.endpoint, json.dumps(document(span(number))).encode())[0])

        threads = [threading.Thread(target=poster, args=(n + 1,)) for n in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert results == [200] * 50
        assert len(store.spans(trace_id=TRACE)) == 50
    store.close()
