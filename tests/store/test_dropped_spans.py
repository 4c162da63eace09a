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


def test_live_run_records_dropped_are_summed_beside_the_spans(store: Store, open_backend):
    """The live-run queue's drops (issue 14 item 3) are recorded as ``live_runs``."""
    store.record_dropped_spans(0, host="h1", pid=10, service_name="svc", live_runs=3)
    store.record_dropped_spans(2, host="h1", pid=10, live_runs=4)
    store.record_dropped_spans(0, host="h2", pid=11, live_runs=0)
    rows = open_backend().dropped_spans()
    assert [(r["host"], r["pid"], r["dropped"], r["live_runs"]) for r in rows] == [("h1", 10, 2, 7)]


def test_an_older_sqlite_drops_table_gains_the_live_runs_column(tmp_path):
    import sqlite3

    from agentel.store import open_store

    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "old.db") as db:  # the table as agentel made it before
        db.execute(
            "CREATE TABLE dropped_spans (host TEXT NOT NULL, pid INTEGER NOT NULL, "
            "service_name TEXT, dropped INTEGER NOT NULL, first_ns INTEGER NOT NULL, "
            "last_ns INTEGER NOT NULL, PRIMARY KEY (host, pid))"
        )
        db.execute("INSERT INTO dropped_spans VALUES ('h', 1, NULL, 9, 1, 2)")
    with open_store(url) as store:
        assert [(r["dropped"], r["live_runs"]) for r in store.dropped_spans()] == [(9, 0)]
        store.record_dropped_spans(1, host="h", pid=1, live_runs=5)
        assert [(r["dropped"], r["live_runs"]) for r in store.dropped_spans()] == [(10, 5)]
