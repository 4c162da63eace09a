"""The real `agentel` command in a subprocess, against a store written by real instrumented
runs (the weather and manual examples with content capture, and a failing agent)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pty
import select
import socket
import sqlite3
import subprocess
import time

import pytest

from agentel.store import open_store
from tests.cli.conftest import AGENTEL, run_agentel

STORE = ("--store", "sqlite:///store.db")


def runs_json(cwd, *args):
    out = run_agentel("runs", *STORE, "--format", "json", "--limit", "100", *args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def without_feedback(runs):
    """Runs as spans alone define them: feedback lives in the store, not in exported spans."""
    return [{k: v for k, v in r.items() if k != "feedback"} for r in runs]


def by_agent(cwd):
    return {r["agent_name"]: r for r in runs_json(cwd)}


def test_runs_filters(recorded):
    everything = runs_json(recorded)
    assert sorted(r["agent_name"] for r in everything) == [
        "flaky-agent",
        "population-agent",
        "weather-agent",
        "weather-agent",
    ]
    assert len(runs_json(recorded, "--agent", "weather-agent")) == 2
    (paris,) = runs_json(recorded, "--text", "PARIS")  # in the captured user message
    assert paris["agent_name"] == "weather-agent"
    assert [r["agent_name"] for r in runs_json(recorded, "--errors")] == ["flaky-agent"]
    assert len(runs_json(recorded, "--no-errors")) == 3
    assert len(runs_json(recorded, "--since", "1h", "--model", "gpt-4o-mini")) == 3
    assert runs_json(recorded, "--until", "1h") == []
    assert len(runs_json(recorded, "--provider", "openai", "--min-cost", "0.00001")) == 3
    assert len(runs_json(recorded, "--service", "manual-agent")) == 1
    tools = {t: runs_json(recorded, "--tool", t) for t in ("get_weather", "explode", "nope")}
    assert [r["agent_name"] for r in tools["get_weather"]] == ["weather-agent"] * 2
    assert [r["agent_name"] for r in tools["explode"]] == ["flaky-agent"]
    assert tools["nope"] == []
    where = "tool_calls >= 1 and status == 'ok' and agent_name != 'population-agent'"
    assert len(runs_json(recorded, "--where", where)) == 2
    assert len(runs_json(recorded, "--min-duration", "0ms", "--order-by", "cost")) == 4
    table = run_agentel("runs", *STORE, "--errors", cwd=recorded)
    assert "flaky-agent" in table.stdout and "error" in table.stdout
    assert "\x1b[" not in table.stdout
    empty = run_agentel("runs", *STORE, "--agent", "nobody", cwd=recorded)
    assert empty.returncode == 0 and "no matching runs" in empty.stdout


def test_show_tree_has_errors_and_json(recorded):
    flaky = by_agent(recorded)["flaky-agent"]
    tree = run_agentel("show", flaky["run_id"][:8], *STORE, cwd=recorded)
    assert tree.returncode == 0, tree.stderr
    assert "execute_tool explode" in tree.stdout and "ERROR" in tree.stdout
    assert "boom in the tool" in tree.stdout
    shown = json.loads(run_agentel("show", flaky["run_id"], *STORE, "--format", "json",
                                   cwd=recorded).stdout)  # fmt: skip
    assert shown["errors"] == 2 and shown["spans"][0]["children"][0]["status"] == "error"


def test_replay_text_json_and_type_filters(recorded):
    weather = runs_json(recorded, "--text", "paris")[0]["run_id"]
    text = run_agentel("replay", weather[:10], *STORE, cwd=recorded)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    kinds = [line.split()[1] for line in lines[1:]]
    assert kinds == [
        "run_started",
        "user_message",
        "llm_request",
        "llm_response",
        "tool_called",
        "tool_result",
        "llm_request",
        "llm_response",
        "run_finished",
    ]
    assert "Weather in Paris?" in lines[2] and "-> calls get_weather" in lines[4]
    assert "light rain" in lines[8] and "$0.0000" in lines[9]
    entries = json.loads(
        run_agentel("replay", weather, *STORE, "--format", "json", cwd=recorded).stdout
    )
    assert [e["type"] for e in entries] == kinds
    assert entries[3]["data"]["input_tokens"] > 0 and entries[3]["data"]["cost_usd"] > 0
    jsonl = run_agentel("replay", weather, *STORE, "--format", "jsonl", "--type", "tool_called",
                        "--type", "tool_result", cwd=recorded)  # fmt: skip
    picked = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [e["type"] for e in picked] == ["tool_called", "tool_result"]
    assert picked[0]["data"]["arguments"] == {"city": "Paris"}
    population = by_agent(recorded)["population-agent"]["run_id"]
    events = run_agentel("replay", population, *STORE, "--type", "plan", "--type", "state_updated",
                         cwd=recorded).stdout  # fmt: skip
    assert "look up the population" in events and "state_updated" in events
    flaky = by_agent(recorded)["flaky-agent"]["run_id"]
    failed = run_agentel("replay", flaky, *STORE, "--type", "error", "--type", "custom",
                         "--format", "json", cwd=recorded)  # fmt: skip
    found = json.loads(failed.stdout)
    assert [e["type"] for e in found] == ["custom", "error", "error"]
    assert found[1]["data"]["error_type"] == "RuntimeError"
    assert found[1]["data"]["message"] == "boom in the tool"
    bad = run_agentel("replay", flaky, *STORE, "--type", "tool_call", cwd=recorded)
    assert bad.returncode == 2 and "tool_call" in bad.stderr


def test_stats_table_chart_json_and_csv(recorded):
    table = run_agentel("stats", *STORE, cwd=recorded)
    assert table.returncode == 0, table.stderr
    assert "gpt-4o-mini" in table.stdout and "cost by model" in table.stdout
    assert "█" in table.stdout and "\x1b[" not in table.stdout
    (row,) = json.loads(run_agentel("stats", *STORE, "--format", "json", cwd=recorded).stdout)
    assert row["group"] == "gpt-4o-mini" and row["count"] == 6
    assert row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in runs_json(recorded)))
    assert 0 < row["p50_ms"] <= row["p95_ms"]
    tools = run_agentel("stats", *STORE, "--by", "tool", "--format", "csv", cwd=recorded).stdout
    rows = {r["group"]: r for r in csv.DictReader(io.StringIO(tools))}
    assert set(rows) == {"get_weather", "lookup_population", "explode"}
    assert rows["explode"]["error_rate"] == "1.0" and rows["get_weather"]["count"] == "2"
    agents = json.loads(run_agentel("stats", *STORE, "--by", "agent", "--format", "json",
                                    cwd=recorded).stdout)  # fmt: skip
    assert {r["group"]: r["count"] for r in agents}["weather-agent"] == 2
    none = run_agentel("stats", *STORE, "--until", "2h", cwd=recorded)
    assert none.returncode == 0 and "nothing recorded" in none.stdout


def test_export_import_round_trip(recorded, tmp_path):
    jsonl = run_agentel("export", *STORE, cwd=recorded)
    assert jsonl.returncode == 0, jsonl.stderr
    spans = [json.loads(line) for line in jsonl.stdout.splitlines()]
    total = sum(r["span_count"] for r in runs_json(recorded))
    assert len(spans) == total and "exported" in jsonl.stderr
    assert {"trace_id", "span_id", "attributes", "events", "cost_usd"} <= set(spans[0])
    target = tmp_path / "spans.otlp.jsonl"
    out = run_agentel("export", *STORE, "--format", "otlp", "--batch", "5", "-o", str(target),
                      cwd=recorded)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = target.read_text().splitlines()
    assert len(lines) == -(-total // 5)
    assert all("resourceSpans" in json.loads(line) for line in lines)
    one_run = runs_json(recorded, "--errors")[0]["run_id"]
    only = run_agentel("export", *STORE, "--run", one_run[:6], cwd=recorded)
    assert {json.loads(line)["run_id"] for line in only.stdout.splitlines()} == {one_run}

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    imported = run_agentel("import", str(target), *STORE, cwd=fresh)
    assert imported.returncode == 0, imported.stderr
    assert f"imported {total} span(s)" in imported.stdout and "rejected 0" in imported.stdout
    expected = without_feedback(runs_json(recorded))
    assert without_feedback(runs_json(fresh)) == expected
    again = run_agentel("import", str(target), *STORE, cwd=fresh)  # idempotent
    assert again.returncode == 0 and without_feedback(runs_json(fresh)) == expected


def test_import_one_document_from_stdin_and_bad_files(tmp_path):
    document = otlp(span("a" * 32, "b" * 16, name="chat gpt-4o"))
    good = run_agentel("import", "-", *STORE, cwd=tmp_path, stdin=json.dumps(document, indent=2))
    assert good.returncode == 0 and "imported 1 span(s)" in good.stdout
    (tmp_path / "broken.json").write_text("{not json")
    broken = run_agentel("import", "broken.json", *STORE, cwd=tmp_path)
    assert broken.returncode == 2 and "broken.json" in broken.stderr
    (tmp_path / "other.json").write_text('{"hello": 1}')
    other = run_agentel("import", "other.json", *STORE, cwd=tmp_path)
    assert other.returncode == 2 and "not OTLP/JSON" in other.stderr
    bad_span = {"traceId": "zz", "spanId": "b" * 16, "name": "bad"}
    mixed = otlp(span("c" * 32, "d" * 16), bad_span)
    (tmp_path / "mixed.jsonl").write_text(json.dumps(mixed) + "\n")
    partial = run_agentel("import", "mixed.jsonl", *STORE, cwd=tmp_path)
    assert partial.returncode == 2
    assert "imported 1 span(s)" in partial.stdout and "rejected 1" in partial.stdout
    assert "traceId" in partial.stderr
    missing = run_agentel("import", "nope.json", *STORE, cwd=tmp_path)
    assert missing.returncode == 2 and "nope.json" in missing.stderr


def test_import_stores_the_valid_lines_and_reports_each_bad_one(tmp_path):
    def line(number: int, **fields: object) -> bytes:
        return json.dumps(otlp({**span("e" * 32, f"{number:016x}"), **fields})).encode()

    lines = [
        b"{truncated",  # a bad first line does not turn the rest into one document
        line(2),
        b'{"resourceSpans": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        line(4, startTimeUnixNano="NUMBER").replace(b'"NUMBER"', b"1e400"),
        b'{"resourceSpans": 5}',
        b'["x"]',
        line(7, name="caf\u00e9 NAME").replace(b"NAME", b"\xff"),
        b"",
        line(9),
    ]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    out = run_agentel("import", "mixed.jsonl", *STORE, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "imported 3 span(s)" in out.stdout and "5 bad line(s)" in out.stdout
    for number in (1, 3, 4, 5, 6):
        assert f"mixed.jsonl line {number}: " in out.stderr
    assert "line 3: not JSON: JSON nested too deeply" in out.stderr
    assert "line 6: not OTLP/JSON" in out.stderr
    assert "Traceback" not in out.stderr
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        names = {s["span_id"]: s["name"] for s in store.spans(trace_id="e" * 32)}
    assert sorted(names) == [f"{n:016x}" for n in (2, 7, 9)]
    assert names[f"{7:016x}"] == "caf\u00e9 \ufffd"


def test_prune_dry_run_confirmation_and_yes(copy_of):
    before = runs_json(copy_of)
    dry = run_agentel("prune", *STORE, "--older-than", "0s", "--dry-run", cwd=copy_of)
    assert dry.returncode == 0 and "would delete 4 run(s)" in dry.stdout
    refused = run_agentel("prune", *STORE, "--older-than", "0s", cwd=copy_of)
    assert refused.returncode == 2 and "refusing to delete 4 run(s)" in refused.stderr
    assert "--yes" in refused.stderr and runs_json(copy_of) == before
    none = run_agentel("prune", *STORE, "--older-than", "7d", "--yes", cwd=copy_of)
    assert none.returncode == 0 and "nothing to prune" in none.stdout
    done = run_agentel("prune", *STORE, "--older-than", "0s", "--yes", cwd=copy_of)
    assert done.returncode == 0 and "deleted 4 run(s)" in done.stdout
    assert runs_json(copy_of) == []
    bad = run_agentel("prune", *STORE, "--older-than", "soon", cwd=copy_of)
    assert bad.returncode == 2 and "'soon'" in bad.stderr


def test_doctor_finds_repairs_and_shows_drops(copy_of):
    """A run record broken behind the store's back: doctor names it and exits 1, changing
    nothing; --repair recomputes it from its spans and exits 0; drops are listed."""
    clean = run_agentel("doctor", *STORE, cwd=copy_of)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "checked 4 run(s)" in clean.stdout and "every run agrees with its spans" in clean.stdout
    before = runs_json(copy_of)
    (weather, *_) = [r for r in before if r["llm_calls"] > 0]
    conn = sqlite3.connect(copy_of / "store.db")
    with conn:
        conn.execute("UPDATE runs SET llm_calls = 0, span_count = 1 WHERE run_id = ?",
                     (weather["run_id"],))  # fmt: skip
    conn.close()
    with open_store(f"sqlite:///{copy_of / 'store.db'}") as store:
        store.record_dropped_spans(3, host="box", pid=77, service_name="svc")

    found = run_agentel("doctor", *STORE, cwd=copy_of)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"problem: run {weather['run_id']}: rollup disagrees with its spans: llm_calls 0 " \
        f"(spans: {weather['llm_calls']}), span_count 1 (spans: {weather['span_count']})" in found.stdout  # fmt: skip
    assert "warning: 3 span(s) dropped in process 77 on box (svc)" in found.stdout
    assert "1 problem(s) found: run `agentel doctor --repair`" in found.stdout
    as_json = run_agentel("doctor", *STORE, "--format", "json", cwd=copy_of)
    assert as_json.returncode == 1
    assert [p["problem"] for p in json.loads(as_json.stdout)["problems"]] == ["rollup"]

    fixed = run_agentel("doctor", *STORE, "--repair", cwd=copy_of)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "repaired 1 problem(s): recomputed 1 run(s) from their spans" in fixed.stdout
    assert runs_json(copy_of) == before
    again = run_agentel("doctor", *STORE, "--format", "json", cwd=copy_of)
    assert again.returncode == 0 and json.loads(again.stdout)["problems"] == []
    missing = run_agentel("doctor", "--store", "sqlite:///nothing.db", cwd=copy_of)
    assert missing.returncode == 2 and "no store at nothing.db" in missing.stderr


def test_prune_asks_on_a_terminal(copy_of):
    """With a terminal on stdin it asks, showing the count; 'n' keeps everything."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [AGENTEL, "prune", *STORE, "--older-than", "0s"],
            cwd=copy_of,
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env={k: v for k, v in os.environ.items() if k != "AGENTEL_STORE"},
        )
        prompt = read_until(primary, proc, "[y/N]")
        assert "Delete 4 run(s)" in prompt
        os.write(primary, b"n\n")
        proc.wait(30)
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 1  # aborted
    assert len(runs_json(copy_of)) == 4


def read_until(fd: int, proc: subprocess.Popen, marker: str) -> str:
    seen = ""
    deadline = time.monotonic() + 30
    while marker not in seen and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 4096).decode(errors="replace")
    return seen


def test_progress_bar_only_on_a_terminal(recorded, tmp_path):
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run(
            [AGENTEL, "export", *STORE, "-o", str(tmp_path / "out.jsonl")],
            cwd=recorded,
            stderr=secondary,
            stdout=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
            timeout=60,
            check=False,
        )
        os.close(secondary)
        output = b""
        while select.select([primary], [], [], 0.2)[0]:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0
    text = output.decode(errors="replace")
    assert "exporting spans" in text and "exported" in text
    piped = run_agentel("export", *STORE, "-o", str(tmp_path / "out2.jsonl"), cwd=recorded)
    assert piped.stderr.strip().startswith("exported") and "exporting spans" not in piped.stderr


def test_feedback(copy_of):
    run_id = by_agent(copy_of)["weather-agent"]["run_id"]
    out = run_agentel("feedback", run_id[:8], "0.5", "--label", "meh", "--comment", "slow",
                      *STORE, "--format", "json", cwd=copy_of)  # fmt: skip
    assert out.returncode == 0, out.stderr
    entry = json.loads(out.stdout)
    assert (entry["run_id"], entry["score"], entry["label"]) == (run_id, 0.5, "meh")
    assert {r["run_id"]: r["feedback"] for r in runs_json(copy_of)}[run_id] == 0.5
    text = run_agentel("feedback", run_id, "1", *STORE, cwd=copy_of)
    assert text.stdout.strip() == f"feedback 1 recorded for run {run_id}"
    nan = run_agentel("feedback", run_id, "nan", *STORE, cwd=copy_of)
    assert nan.returncode == 2 and "nan" in nan.stderr
    missing = run_agentel("feedback", "ffffffffff", "1", *STORE, cwd=copy_of)
    assert missing.returncode == 1 and "'ffffffffff'" in missing.stderr


HOSTILE = [
    "cost_usd > 0; DROP TABLE runs; --",
    "status == 'ok' OR 1=1",
    "agent_name == 'x' or 1 == 1",
    "$where == 'sleep(5000)'",
    '{"$where": "this.cost_usd > 0"}',
    "agent_name == {'$function': {'body': 'function() { return true }'}}",
    "cost_usd > 0 and __import__('os').system('touch pwned') == 0",
    "status == 'ok' " + "and errors == 0 " * 600,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_where_exits_2_and_changes_nothing(copy_of, text):
    before = runs_json(copy_of)
    spans = len(run_agentel("export", *STORE, cwd=copy_of).stdout.splitlines())
    out = run_agentel("runs", *STORE, "--where", text, cwd=copy_of)
    assert out.returncode == 2, out.stdout
    assert "Invalid value for '--where'" in out.stderr and out.stdout == ""
    assert runs_json(copy_of) == before
    assert len(run_agentel("export", *STORE, cwd=copy_of).stdout.splitlines()) == spans
    assert not (copy_of / "pwned").exists()


def test_values_that_look_like_code_are_only_values(recorded):
    for text in ("agent_name == \"x' OR '1'='1\"", "agent_name == '$where'"):
        assert runs_json(recorded, "--where", text) == []
    assert runs_json(recorded, "--agent", "' OR 1=1 --") == []
    assert runs_json(recorded, "--text", "%") == []


def test_errors_say_what_was_wrong(recorded, tmp_path):
    missing = run_agentel("show", "ffffff", *STORE, cwd=recorded)
    assert missing.returncode == 1 and "'ffffff'" in missing.stderr
    not_hex = run_agentel("replay", "zz-top", *STORE, cwd=recorded)
    assert not_hex.returncode == 1 and "'zz-top' is not a hex id" in not_hex.stderr
    no_file = run_agentel("runs", "--store", "sqlite:///typo.db", cwd=tmp_path)
    assert no_file.returncode == 1 and "no store at typo.db" in no_file.stderr
    assert not (tmp_path / "typo.db").exists()
    bad_url = run_agentel("stats", "--store", "postgres://db/x", cwd=recorded)
    assert bad_url.returncode == 2 and "postgres://db/x" in bad_url.stderr
    bad_time = run_agentel("runs", *STORE, "--since", "last tuesday", cwd=recorded)
    assert bad_time.returncode == 2 and "'last tuesday' is not a time" in bad_time.stderr
    bad_duration = run_agentel("runs", *STORE, "--min-duration", "quick", cwd=recorded)
    assert bad_duration.returncode == 2 and "'quick' is not a duration" in bad_duration.stderr
    usage = run_agentel("runs", *STORE, "--colour", cwd=recorded)
    assert usage.returncode == 2


def test_ambiguous_prefix_lists_the_candidates(tmp_path):
    one, two = "abc" + "1" * 29, "abc" + "2" * 29  # run ids start with their trace ids
    document = otlp(
        span(one, "1" * 16, name="invoke_agent one", agent="one"),
        span(two, "1" * 16, name="invoke_agent two", agent="two"),
    )
    (tmp_path / "two.json").write_text(json.dumps(document))
    assert run_agentel("import", "two.json", *STORE, cwd=tmp_path).returncode == 0
    out = run_agentel("show", "abc", *STORE, cwd=tmp_path)
    assert out.returncode == 1
    assert "ambiguous" in out.stderr
    assert one + "1" * 16 in out.stderr and two + "1" * 16 in out.stderr
    assert run_agentel("show", "abc1", *STORE, cwd=tmp_path).returncode == 0


def test_runs_table_shows_the_prefixes_that_tell_runs_apart(tmp_path):
    shared, alone = "ab" * 16, "cd" * 16  # two runs in one trace, one in another
    document = otlp(
        span(shared, "1" * 16, name="invoke_agent one", agent="one"),
        span(shared, "2" * 16, name="invoke_agent two", agent="two"),
        span(alone, "3" * 16, name="invoke_agent three", agent="three"),
    )
    (tmp_path / "three.json").write_text(json.dumps(document))
    assert run_agentel("import", "three.json", *STORE, cwd=tmp_path).returncode == 0
    table = run_agentel("runs", *STORE, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[1]: line.split()[0] for line in table.stdout.splitlines()[1:]}
    assert rows == {"one": shared + "1", "two": shared + "2", "three": alone[:12]}
    for agent, prefix in rows.items():
        shown = run_agentel("show", prefix, *STORE, cwd=tmp_path)
        assert shown.returncode == 0 and f"invoke_agent {agent}" in shown.stdout


def test_unreachable_mongodb_fails_fast(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    out = run_agentel("runs", "--store", f"mongodb://127.0.0.1:{port}/x", cwd=tmp_path, timeout=30)
    assert out.returncode == 1
    assert f"cannot reach MongoDB at mongodb://127.0.0.1:{port}/x" in out.stderr
    assert time.monotonic() - started < 15


def test_mongodb_store_answers_like_sqlite(recorded, tmp_path, mongodb_url):
    target = tmp_path / "all.jsonl"
    run_agentel("export", *STORE, "--format", "otlp", "-o", str(target), cwd=recorded)
    assert run_agentel("import", str(target), "--store", mongodb_url, cwd=tmp_path).returncode == 0
    for args in (("runs", "--format", "json"), ("stats", "--by", "tool", "--format", "json")):
        sqlite = run_agentel(*args, *STORE, cwd=recorded)
        mongo = run_agentel(*args, "--store", mongodb_url, cwd=tmp_path)
        assert mongo.returncode == 0, mongo.stderr
        if args[0] == "runs":
            assert without_feedback(json.loads(mongo.stdout)) == without_feedback(
                json.loads(sqlite.stdout)
            )
        else:
            assert json.loads(mongo.stdout) == json.loads(sqlite.stdout)
    with open_store(mongodb_url) as store:
        assert len(store.runs()) == 4


def span(trace_id, span_id, *, name="span", agent=None):
    attributes = []
    if agent:
        attributes = [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
            {"key": "gen_ai.agent.name", "value": {"stringValue": agent}},
        ]
    return {"traceId": trace_id, "spanId": span_id, "name": name, "startTimeUnixNano": "1000",
            "endTimeUnixNano": "2000", "attributes": attributes}  # fmt: skip


def otlp(*spans):
    return {"resourceSpans": [{"resource": {"attributes": []},
                               "scopeSpans": [{"scope": {"name": "t"}, "spans": list(spans)}]}]}  # fmt: skip


def test_a_failed_import_creates_no_store(tmp_path):
    (tmp_path / "garbage.json").write_text("{not json\nnor this\n")
    failed = run_agentel("import", "garbage.json", "--store", "sqlite:///new.db", cwd=tmp_path)
    assert failed.returncode == 2 and "garbage.json" in failed.stderr
    assert "imported 0 span(s)" in failed.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.json"]


def test_reading_an_empty_file_never_writes_a_schema_into_it(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    for command in (["runs"], ["stats"], ["show", "ab"]):
        out = run_agentel(*command, "--store", "sqlite:///empty.db", cwd=tmp_path)
        assert out.returncode == 1 and "is empty" in out.stderr, command
    assert (tmp_path / "empty.db").stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_bad_abandon_after_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTEL_ABANDON_AFTER", "soon")
    for command in (["runs"], ["stats"]):
        out = run_agentel(*command, "--store", "sqlite:///none.db", cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert "AGENTEL_ABANDON_AFTER" in out.stderr and "'soon'" in out.stderr
        assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


@contextlib.contextmanager
def _read_only_store(directory):
    """A directory holding a store with one run, then made read-only: as root (who ignores
    file modes) a tmpfs mount remounted read-only, otherwise a directory without write
    permission."""
    from tests.store.store_helpers import agent_run

    directory.mkdir()
    root = os.geteuid() == 0
    if root:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(directory)], check=True
        )
    try:
        with open_store(f"sqlite:///{directory / 'store.db'}") as store:
            store.ingest(agent_run())
        if root:
            subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
        else:
            directory.chmod(0o555)
        yield directory
    finally:
        if root:
            subprocess.run(["umount", str(directory)], check=True)
        else:
            directory.chmod(0o755)


def test_the_cli_reads_a_store_in_a_read_only_directory(tmp_path):
    with _read_only_store(tmp_path / "ro") as directory:
        before = sorted(p.name for p in directory.iterdir())
        url = f"sqlite:///{directory / 'store.db'}"
        out = run_agentel("runs", "--store", url, "--format", "json", cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        (run,) = json.loads(out.stdout)
        assert (run["agent_name"], run["llm_calls"], run["status"]) == ("bot", 2, "ok")
        for command in (
            ["show", run["run_id"][:12]],
            ["stats"],
            ["export"],
            ["replay", run["run_id"]],
        ):
            out = run_agentel(*command, "--store", url, cwd=tmp_path)
            assert out.returncode == 0, (command, out.stderr)
        assert sorted(p.name for p in directory.iterdir()) == before == ["store.db"]
        out = run_agentel("feedback", run["run_id"], "1", "--store", url, cwd=tmp_path)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr  # a writer


def test_open_store_for_reading_never_creates_or_writes_a_file(tmp_path):
    from agentel.store import StoreError
    from tests.store.store_helpers import agent_run

    empty, missing = tmp_path / "empty.db", tmp_path / "missing.db"
    empty.write_bytes(b"")
    for path, message in ((empty, "is empty"), (missing, "no store at")):
        with pytest.raises(StoreError, match=message):
            open_store(f"sqlite:///{path}", read_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]
    assert empty.stat().st_size == 0

    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        store.ingest(agent_run())
    with open_store(url, read_only=True) as reader:
        assert [r["agent_name"] for r in reader.runs()] == ["bot"]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.add_feedback(reader.runs()[0]["run_id"], 1.0)
