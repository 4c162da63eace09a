"""``Store.doctor``: every kind of disagreement between runs and their spans is found, left
alone without ``repair``, and fixed with it, on memory, SQLite and MongoDB.

The damage is done to the stored data directly, as an interrupted writer or prune leaves it:
through SQL on the SQLite file, through pymongo on the MongoDB database, and through the
memory store's dicts (it has no other storage).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from agentel.store import Store, sqlite_path
from agentel.store.memory import MemoryStore
from tests.store.store_helpers import agent_run, rid

TRACES = {name: name * 32 for name in "abcde"}
RUNS = {name: rid(name * 16, TRACES[name]) for name in TRACES}


class Damage:
    """Writes past the store's API into its own storage, one backend at a time."""

    def __init__(self, store: Store, backend: str) -> None:
        self.store, self.backend = store, backend
        if backend == "mongodb":
            import pymongo

            self.client: Any = pymongo.MongoClient(store.url)
            self.db = self.client.get_default_database()
        elif backend == "sqlite":
            self.conn = sqlite3.connect(sqlite_path(store.url), isolation_level=None)

    def close(self) -> None:
        if self.backend == "mongodb":
            self.client.close()
        elif self.backend == "sqlite":
            self.conn.close()

    def set_run(self, run_id: str, **values: Any) -> None:
        if self.backend == "memory":
            for name, value in values.items():
                setattr(memory(self.store)._runs[run_id], name, value)
        elif self.backend == "sqlite":
            assignments = ", ".join(f"{name} = ?" for name in values)
            self.conn.execute(
                f"UPDATE runs SET {assignments} WHERE run_id = ?", [*values.values(), run_id]
            )
        else:
            self.db.runs.update_one({"_id": run_id}, {"$set": values})

    def delete_run(self, run_id: str) -> None:
        if self.backend == "memory":
            del memory(self.store)._runs[run_id]
        elif self.backend == "sqlite":
            self.conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        else:
            self.db.runs.delete_one({"_id": run_id})

    def delete_spans(self, run_id: str) -> None:
        if self.backend == "memory":
            held = memory(self.store)
            for key in held._by_run.pop(run_id):
                del held._spans[key]
                held._by_trace[key[0]].discard(key)
        elif self.backend == "sqlite":
            self.conn.execute("DELETE FROM spans WHERE run_id = ?", (run_id,))
        else:
            self.db.spans.delete_many({"run_id": run_id})

    def set_spans(self, run: str, category: str | None, **values: Any) -> None:
        """Set fields of the spans of run ``run`` (only those of ``category`` unless None)."""
        if self.backend == "memory":
            held = memory(self.store)
            for key in list(held._by_run[run]):
                span = held._spans[key]
                if category is None or span.category == category:
                    if "run_id" in values:
                        held._index_run(key, span.run_id, values["run_id"])
                    for name, value in values.items():
                        setattr(span, name, value)
        elif self.backend == "sqlite":
            assignments = ", ".join(f"{name} = ?" for name in values)
            where = "run_id = ?" + (" AND category = ?" if category else "")
            self.conn.execute(
                f"UPDATE spans SET {assignments} WHERE {where}",
                [*values.values(), run, *([category] if category else [])],
            )
        else:
            query = {"run_id": run, **({"category": category} if category else {})}
            self.db.spans.update_many(query, {"$set": values})


def memory(store: Store) -> MemoryStore:
    assert isinstance(store, MemoryStore)
    return store


def kinds(problems: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["problem"], p.get("run_id") or p["trace_id"]): p for p in problems}


def test_doctor_finds_each_kind_of_damage_and_repair_fixes_it(
    store: Store, backend: str, open_backend: Callable[[], Store]
) -> None:
    for name, trace_id in TRACES.items():
        store.ingest(agent_run(name, trace_id=trace_id))
    store.record_dropped_spans(7, host="box", pid=42, service_name="svc")
    healthy = {r["run_id"]: r for r in store.runs(limit=None)}
    clean = store.doctor()
    assert (clean["runs"], clean["spans"], clean["problems"], clean["remaining"]) == (5, 20, [], [])
    assert not clean["repaired"]
    assert [(d["pid"], d["dropped"]) for d in clean["dropped"]] == [(42, 7)]

    damage = Damage(store, backend)
    try:
        # a run record out of step with its spans, as a writer killed between them leaves it
        damage.set_run(RUNS["a"], llm_calls=0, input_tokens=0, span_count=1, status="error")
        damage.delete_run(RUNS["b"])  # spans but no run record: `runs` never lists it
        damage.delete_spans(RUNS["c"])  # a prune cut short: a run record with no spans
        damage.set_spans(RUNS["d"], "llm", counted=False)  # stale flags: calls counted 0 times
        damage.set_spans(RUNS["e"], None, run_id=None)  # spans of no run
    finally:
        damage.close()

    found = store.doctor()
    problems = kinds(found["problems"])
    assert set(problems) == {
        ("rollup", RUNS["a"]),
        ("missing_run", RUNS["b"]),
        ("empty_run", RUNS["c"]),
        ("span_flags", RUNS["d"]),
        ("no_run_id", TRACES["e"]),
        ("empty_run", RUNS["e"]),
    }
    assert problems[("rollup", RUNS["a"])]["fields"] == {
        "llm_calls": {"stored": 0, "spans": 2},
        "input_tokens": {"stored": 0, "spans": 2500},
        "span_count": {"stored": 1, "spans": 4},
        "status": {"stored": "error", "spans": "ok"},
    }
    assert problems[("missing_run", RUNS["b"])]["spans"] == 4
    assert problems[("span_flags", RUNS["d"])]["spans"] == 2
    assert problems[("no_run_id", TRACES["e"])]["spans"] == 4
    assert found["remaining"] == found["problems"] and not found["repaired"]
    assert open_backend().doctor()["problems"] == found["problems"]  # it only looked

    fixed = store.doctor(repair=True)
    assert fixed["repaired"] and fixed["remaining"] == []
    assert kinds(fixed["problems"]).keys() == problems.keys()
    after = open_backend()
    assert after.doctor()["problems"] == []
    expected = {run_id: run for run_id, run in healthy.items() if run_id != RUNS["c"]}
    assert {r["run_id"]: r for r in after.runs(limit=None)} == expected
    assert after.spans(run_id=RUNS["d"], category="llm")[0]["counted"] is True
