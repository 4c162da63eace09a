"""MongoDB specifics: concurrent writers, TTL retention, a clear error for a missing server."""

from __future__ import annotations

import socket
import time

import pytest

from agentel.store import StoreError, open_store
from agentel.store.mongodb import MongoStore
from tests.store.store_helpers import agent_run, rid


def test_a_writer_with_a_stale_view_recomputes_the_run(mongodb_url):
    first, second = MongoStore(mongodb_url), MongoStore(mongodb_url)
    spans = agent_run()
    stale = first._plan(spans[:2])  # computed before the other writer's spans land
    second.ingest(spans[2:])
    conflicts = first._apply(stale)
    assert conflicts == {rid("a" * 16)}
    assert first._apply(first._plan([], conflicts)) == set()
    with MongoStore(mongodb_url) as reference:
        run = reference.run(rid("a" * 16))
    assert (run["span_count"], run["llm_calls"], run["input_tokens"]) == (4, 2, 2500)
    first.close()
    second.close()


def test_ttl_index_follows_agentel_mongodb_ttl_days(monkeypatch, mongodb_url):
    monkeypatch.setenv("AGENTEL_MONGODB_TTL_DAYS", "30")
    with open_store(mongodb_url) as store:
        info = store._spans.index_information()["ttl_start_at"]
        assert info["expireAfterSeconds"] == 30 * 86_400
        assert store._runs.index_information()["ttl_start_at"]["expireAfterSeconds"] == 2_592_000
        assert "ttl_created_at" in store._feedback.index_information()
        store.ingest(agent_run())
        doc = store._spans.find_one({"span_id": "1" * 16})
        assert doc["start_at"].year == 1970  # a real date, so the server can expire it
    monkeypatch.setenv("AGENTEL_MONGODB_TTL_DAYS", "7")
    with open_store(mongodb_url) as store:
        assert store._spans.index_information()["ttl_start_at"]["expireAfterSeconds"] == 604_800
    monkeypatch.setenv("AGENTEL_MONGODB_TTL_DAYS", "soon")
    with pytest.raises(StoreError, match="'soon'"):
        open_store(mongodb_url)


def test_unreachable_server_fails_fast_with_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        StoreError, match=rf"cannot reach MongoDB at mongodb://\*\*\*@127.0.0.1:{port}"
    ):
        MongoStore(f"mongodb://u:pw@127.0.0.1:{port}/db", server_selection_timeout_ms=300)
    assert time.monotonic() - started < 5


def test_documents_of_layout_2_get_request_models_and_model_keys(mongodb_url):
    """Layout 2 kept only each span's response model and no model keys on runs."""
    with MongoStore(mongodb_url) as store:
        store.ingest(agent_run())
        store._spans.update_many({}, {"$unset": {"request_model": ""}})
        store._runs.update_many({}, {"$unset": {"model_keys": ""}})
        store._spans.update_many(  # what the real API answers
            {"model": "gpt-4o-mini"}, {"$set": {"model": "gpt-4o-mini-2024-07-18"}}
        )
        store._meta.update_one({"_id": "schema"}, {"$set": {"version": 2}}, upsert=True)
        assert store.runs(model="gpt-4o-mini") == []
    with MongoStore(mongodb_url) as store:
        assert [r["run_id"] for r in store.runs(model="gpt-4o-mini")] == [rid("a" * 16)]
        assert {s["request_model"] for s in store.spans(category="llm")} == {"gpt-4o-mini"}
        assert store._meta.find_one({"_id": "schema"})["version"] == 3
