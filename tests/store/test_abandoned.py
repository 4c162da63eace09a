"""Runs judged from their spans (issue 14 item 3): a running run that has been silent longer
than ``AGENTEL_ABANDON_AFTER`` is abandoned on every backend, whatever its host, whether or
not its top span or its pid was ever recorded."""

from __future__ import annotations

import logging
import time

import pytest

from agentel.store.liveness import _warn_bad, parse_abandon_after
from agentel.store.memory import MemoryStore
from tests.store.store_helpers import rec, rid

HOUR = 3600 * 10**9
AGENT = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bot"}
ELSEWHERE = {"process.pid": 4242, "host.name": "another-host.example"}


def _run(trace: str, root: str, *, start: int, last: int, with_root: bool = True) -> list:
    """A run on another host: its live top span (unless left out) and one finished step."""
    stamp = {"agentel.run.id": rid(root, trace)}
    step = rec("1" * 16, root, start=last - 10, end=last, trace_id=trace, **stamp)
    if not with_root:
        return [step]
    top = rec(
        root, None, start=start, end=None, trace_id=trace, resource=ELSEWHERE, **stamp, **AGENT
    )
    return [top, step]


def test_a_run_silent_longer_than_abandon_after_is_abandoned(store, open_backend, monkeypatch):
    monkeypatch.delenv("AGENTEL_ABANDON_AFTER", raising=False)
    now = time.time_ns()
    silent, talking, rootless = "a1" * 16, "b2" * 16, "c3" * 16
    store.ingest(_run(silent, "a" * 16, start=now - 3 * HOUR, last=now - 2 * HOUR))
    store.ingest(_run(talking, "b" * 16, start=now - 3 * HOUR, last=now - HOUR // 6))
    # the live record was lost: only a step of the run reached the store, 3 hours ago
    store.ingest(_run(rootless, "c" * 16, start=0, last=now - 3 * HOUR, with_root=False))

    def status() -> dict[str, str]:
        return {r["run_id"][:2]: r["status"] for r in store.runs()}

    # judged at ingest with the default of 1 h; another host's pid is never looked at
    assert status() == {"a1": "abandoned", "b2": "running", "c3": "abandoned"}
    assert store.run(rid("a" * 16, silent))["pid"] == 4242
    assert store.mark_abandoned() == []

    monkeypatch.setenv("AGENTEL_ABANDON_AFTER", "5m")  # 10 minutes of silence is now too long
    if not isinstance(store, MemoryStore):  # a store opened now marks it at once
        assert open_backend().run(rid("b" * 16, talking))["status"] == "abandoned"
    assert store.mark_abandoned() in ([rid("b" * 16, talking)], [])
    assert [r["run_id"][:2] for r in store.runs(status="abandoned")] == ["a1", "b2", "c3"]
    assert store.runs(status="running") == []

    # the run speaks again: it is running after all; its top span ending makes it ok
    store.ingest([rec("2" * 16, "b" * 16, start=now, end=now + 5, trace_id=talking,
                      **{"agentel.run.id": rid("b" * 16, talking)})])  # fmt: skip
    assert store.run(rid("b" * 16, talking))["status"] == "running"
    top = rec("b" * 16, None, start=now - 3 * HOUR, end=now + 10, trace_id=talking,
              resource=ELSEWHERE, **{"agentel.run.id": rid("b" * 16, talking)}, **AGENT)  # fmt: skip
    store.ingest([top])
    assert store.run(rid("b" * 16, talking))["status"] == "ok"


def test_a_bad_abandon_after_is_logged_once_and_the_default_used(store, monkeypatch, caplog):
    now = time.time_ns()
    _warn_bad.cache_clear()  # once per process: this test's backend may not be the first
    monkeypatch.setenv("AGENTEL_ABANDON_AFTER", "soon")
    with caplog.at_level(logging.WARNING, logger="agentel.store"):
        store.ingest(_run("d4" * 16, "d" * 16, start=now - 3 * HOUR, last=now - 2 * HOUR))
        store.ingest(_run("e5" * 16, "e" * 16, start=now - HOUR, last=now - HOUR // 2))
        store.mark_abandoned()
    assert {r["run_id"][:2]: r["status"] for r in store.runs()} == {
        "d4": "abandoned",
        "e5": "running",
    }
    warnings = [r.getMessage() for r in caplog.records if "AGENTEL_ABANDON_AFTER" in r.getMessage()]
    assert len(warnings) == 1 and "'soon'" in warnings[0], warnings


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(None, 3600), ("", 3600), ("90", 90), ("0.5", 0.5), ("90s", 90), ("30m", 1800),
     ("2h", 7200), ("1d", 86400), (" 2h ", 7200)],
)  # fmt: skip
def test_abandon_after_accepts_seconds_and_units(value, seconds):
    assert parse_abandon_after(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-5", "0", "5 minutes", "1w", "nan", "2h30m"])
def test_a_bad_abandon_after_names_the_variable_and_the_value(value):
    with pytest.raises(ValueError, match=f"AGENTEL_ABANDON_AFTER .*got {value!r}"):
        parse_abandon_after(value)
