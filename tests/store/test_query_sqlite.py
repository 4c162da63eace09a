"""SQLite query plans: the big-store queries read indexes, not the spans table."""

from __future__ import annotations

import time

from agentel.store import open_store
from tests.store.query_data import dataset


def plans(store, sql_fragment):
    """The query plans of the statements the store ran that contain ``sql_fragment``."""
    found = []
    store.conn.set_trace_callback(lambda sql: found.append(sql) if sql_fragment in sql else None)
    return found


def test_stats_by_model_reads_only_the_usage_index(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    store.ingest(dataset(time.time_ns()))
    statements = plans(store, "counted = 1")
    rows = store.stats("model")
    store.conn.set_trace_callback(None)
    assert len(rows) == 4 and len(statements) == 1 + 2 * 4  # the sums, then 2 seeks per model
    for sql in statements:
        plan = " ".join(r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "INDEX spans_usage" in plan, (sql, plan)
    store.close()
