"""Drops recorded on a store: summed per process, listed most first, on every backend."""

from __future__ import annotations

from agentel.store import Store


def test_dropped_spans_are_summed_per_process_and_listed_most_first(store: Store, open_backend):
    assert store.dropped_spans() == []
    store.record_dropped_spans(5, host="h1", pid=10, service_name="svc")
    store.record_dropped_spans(7, host="h1", pid=10)
    store.record_dropped_spans(30, host="h2", pid=10, service_name="other")
    store.record_dropped_spans(0, host="h3", pid=1)
    rows = open_backend().dropped_spans()  # another reader sees them
    assert [(r["host"], r["pid"], r["service_name"], r["dropped"]) for r in rows] == [
        ("h2", 10, "other", 30),
        ("h1", 10, "svc", 12),
    ]
    first, last = rows[1]["first_at"], rows[1]["last_at"]
    assert first.endswith("Z") and first <= last
