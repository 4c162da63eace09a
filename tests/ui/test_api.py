"""The JSON API of `agentel ui` on SQLite and MongoDB: every endpoint, the same fields as the
store API, hostile input answered with 400/404 (never 500), tokens, CSRF and headers."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from agentel.store import open_store
from agentel.ui import UIConfig, create_app
from agentel.ui.app import WATERFALL_FIELDS
from agentel.ui.shell import CSP


@pytest.fixture
def store(store_url):
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def client(store_url):
    config = UIConfig(store_url=store_url)
    with TestClient(create_app(config)) as test_client:
        test_client.csrf = config.csrf
        yield test_client


def get(client, path, expect=200, **params):
    response = client.get(path, params=params)
    assert response.status_code == expect, response.text
    return response.json()


def weather_runs(store):
    return store.runs(agent="weather-agent", limit=None)


def test_runs_page_has_the_store_fields_and_the_filters_work(client, store):
    page = get(client, "/api/runs")
    assert page["runs"] == store.runs(limit=50)
    assert page["more"] is False and page["limit"] == 50
    assert [r["agent_name"] for r in get(client, "/api/runs", agent="weather-agent")["runs"]] == [
        "weather-agent"
    ] * 2
    assert {r["status"] for r in get(client, "/api/runs", status="error")["runs"]} == {"error"}
    assert get(client, "/api/runs", errors="true")["runs"] == store.runs(has_error=True)
    tool = get(client, "/api/runs", tool="get_weather")["runs"]
    assert tool == store.runs(tool="get_weather") and len(tool) == 2
    assert get(client, "/api/runs/totals", tool="get_weather")["runs"] == 2
    where = "llm_calls >= 2 and cost_usd > 0"
    assert get(client, "/api/runs", where=where)["runs"] == store.runs(where=where)
    assert get(client, "/api/runs", text="Tokyo")["runs"] == store.runs(text="Tokyo")
    assert get(client, "/api/runs", since="1d", min_cost="0.0000001")["runs"] == store.runs(
        since="1d", min_cost=1e-7
    )
    by_cost = get(client, "/api/runs", order_by="cost")["runs"]
    assert [r["cost_usd"] for r in by_cost] == sorted(
        (r["cost_usd"] for r in by_cost), reverse=True
    )


def test_paging_and_totals(client, store):
    everything = store.runs(limit=None)
    first = get(client, "/api/runs", limit=2)
    second = get(client, "/api/runs", limit=2, offset=2)
    assert first["more"] and [r["run_id"] for r in first["runs"] + second["runs"]] == [
        r["run_id"] for r in everything[:4]
    ]
    totals = get(client, "/api/runs/totals")
    assert totals["runs"] == len(everything)
    assert totals["input_tokens"] == sum(r["input_tokens"] for r in everything)
    assert totals["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in everything))
    assert totals["errors"] == 1
    assert get(client, "/api/runs/totals", agent="weather-agent")["runs"] == 2

    from agentel.ui import app

    app.TOTALS_PAGE, paged = 2, app.TOTALS_PAGE  # the same sums, read two runs at a time
    try:
        assert get(client, "/api/runs/totals") == totals
    finally:
        app.TOTALS_PAGE = paged


def test_run_tree_is_what_show_json_gives_and_ids_are_url_encoded(client, store):
    run = weather_runs(store)[0]
    body = get(client, f"/api/runs/{quote(run['run_id'], safe='')}")
    assert body == {**run, "spans": store.run_tree(run["run_id"])}
    root = body["spans"][0]
    assert root["category"] == "agent"
    assert sorted(c["category"] for c in root["children"]) == ["llm", "llm", "tool"]
    assert get(client, f"/api/runs/{run['run_id'][:8]}")["run_id"] == run["run_id"]


def test_waterfall_is_the_run_with_light_spans_and_a_span_is_looked_up_whole(client, store):
    run = weather_runs(store)[0]
    spans = store.spans(run_id=run["run_id"])
    body = get(client, f"/api/runs/{run['run_id'][:12]}/waterfall")
    assert body == {**run, "spans": store.spans(run_id=run["run_id"], fields=WATERFALL_FIELDS)}
    assert [s["span_id"] for s in body["spans"]] == [s["span_id"] for s in spans]
    assert set(body["spans"][0]) == set(WATERFALL_FIELDS)  # no attributes, events or content
    for span in spans:
        assert get(client, f"/api/spans/{span['trace_id']}/{span['span_id']}") == span
    llm = next(s for s in spans if s["category"] == "llm")
    whole = get(client, f"/api/spans/{llm['trace_id']}/{llm['span_id']}")
    assert "gen_ai.input.messages" in whole["attributes"]
    get(client, f"/api/spans/{llm['trace_id']}/{llm['span_id']}", 400, extra="1")
    get(client, f"/api/runs/{run['run_id']}/waterfall", 400, limit="1")
    get(client, f"/api/runs/{'0' * 16}/waterfall", 404)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/spans/{'0' * 32}/{'0' * 16}",
        "/api/spans/%3Cscript%3E/x",
        "/api/spans/..%2F..%2Fetc/passwd",
        "/api/spans/a%00/b",
        "/api/spans/only-one-part",
    ],
)
def test_unknown_or_malformed_span_ids_are_404(client, path):
    assert get(client, path, 404)["error"]


@pytest.mark.parametrize(
    "run_id", ["0" * 16, "nothex", "%3Cscript%3E", "a%2Fb", "..%2F..%2Fetc%2Fpasswd", "%00"]
)
def test_unknown_or_malformed_run_ids_are_404(client, run_id):
    body = get(client, f"/api/runs/{run_id}", 404)
    assert body["error"]
    get(client, f"/api/runs/{run_id}/replay", 404)


def test_replay_spans_stats_and_daily(client, store):
    run = weather_runs(store)[0]
    rid = run["run_id"]
    assert get(client, f"/api/runs/{rid}/replay") == store.replay(rid)
    tools = client.get(f"/api/runs/{rid}/replay?type=tool_called&type=tool_result").json()
    assert [e["type"] for e in tools] == ["tool_called", "tool_result"]
    assert get(client, "/api/spans", run_id=rid) == store.spans(run_id=rid)
    assert len(get(client, "/api/spans", limit=3)) == 3
    assert get(client, "/api/stats", by="tool") == store.stats("tool")
    assert get(client, "/api/stats") == store.stats("model")
    daily = get(client, "/api/stats/daily", since="2d")
    assert 2 <= len(daily["days"]) <= 3
    models = [g["group"] for d in daily["days"] for g in d["groups"]]
    assert "gpt-4o-mini" in models


def test_conversations_group_runs(client):
    found = get(client, "/api/conversations")
    (conversation,) = found["conversations"]
    assert conversation["conversation_id"] == 'conv-<img src=x onerror="window.__xss=1">'
    assert conversation["runs"] == 2 and conversation["agents"] == [
        "<script>window.__xss=2</script> agent"
    ]


def test_compare_is_the_store_diff(client, store):
    a, b = weather_runs(store)
    found = get(client, "/api/compare", a=a["run_id"], b=b["run_id"])
    assert found == store.diff(a["run_id"], b["run_id"])
    assert [(s["a"]["kind"], s["b"]["kind"]) for s in found["steps"]] == [
        ("llm", "llm"),
        ("tool", "tool"),
        ("llm", "llm"),
    ]
    tool_step = found["steps"][1]
    assert tool_step["a"]["tool_name"] == "get_weather"
    assert "arguments" in [d["field"] for d in tool_step["differences"]]  # Paris vs Tokyo
    assert found["totals"]["input_tokens"]["delta"] == b["input_tokens"] - a["input_tokens"]
    flaky = store.runs(agent="flaky-agent")[0]
    lopsided = get(client, "/api/compare", a=a["run_id"], b=flaky["run_id"])
    assert any(s["status"] == "removed" for s in lopsided["steps"])
    assert get(client, "/api/compare", 400, a=a["run_id"])["error"]
    get(client, "/api/compare", 404, a=a["run_id"], b="f" * 16)


def test_feedback_needs_the_csrf_token_and_json(client, store):
    rid = weather_runs(store)[0]["run_id"]
    url = f"/api/runs/{rid}/feedback"
    assert client.post(url, json={"score": 1}).status_code == 403
    assert (
        client.post(url, json={"score": 1}, headers={"x-agentel-csrf": "wrong"}).status_code == 403
    )
    headers = {"x-agentel-csrf": client.csrf}
    evil = {**headers, "origin": "http://evil.example"}
    assert client.post(url, json={"score": 1}, headers=evil).status_code == 403
    form = client.post(url, data={"score": "1"}, headers=headers)
    assert form.status_code == 415
    for bad in (
        {"score": "high"},
        {"score": True},
        {"score": 1, "extra": 2},
        [1],
        {"score": 1e400},
    ):
        answer = client.post(
            url, content=json.dumps(bad), headers={**headers, "content-type": "application/json"}
        )
        assert answer.status_code == 400, (bad, answer.text)
    answer = client.post(url, json={"score": 0.5, "comment": "<b>ok</b>"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["score"] == 0.5 and answer.json()["comment"] == "<b>ok</b>"
    assert store.run(rid)["feedback"] == 0.5
    missing = client.post("/api/runs/ffffffffffffffff/feedback", json={"score": 1}, headers=headers)
    assert missing.status_code == 404
    assert client.get(url).status_code in (404, 405)


HOSTILE_QUERIES = [
    ("/api/runs", {"where": "cost_usd > 0; DROP TABLE runs"}),
    ("/api/runs", {"where": "__import__('os').system('id')"}),
    ("/api/runs", {"where": "x" * 5000}),
    ("/api/runs", {"where": "(" * 500}),
    ("/api/runs", {"since": "yesterday-ish"}),
    ("/api/runs", {"until": "9" * 40}),
    ("/api/runs", {"min_cost": "nan"}),
    ("/api/runs", {"min_cost": "cheap"}),
    ("/api/runs", {"min_duration": "-5s"}),
    ("/api/runs", {"errors": "maybe"}),
    ("/api/runs", {"limit": "0"}),
    ("/api/runs", {"limit": "1e9"}),
    ("/api/runs", {"offset": "-1"}),
    ("/api/runs", {"order_by": "run_id; --"}),
    ("/api/runs", {"text": "a" * 2000}),
    ("/api/runs", {"bogus": "1"}),
    ("/api/runs/totals", {"where": "nonsense =="}),
    ("/api/spans", {"limit": "many"}),
    ("/api/spans", {"since": "x"}),
    ("/api/stats", {"by": "password"}),
    ("/api/stats", {"since": "-3d"}),
    ("/api/stats/daily", {"since": "100000d"}),
    ("/api/stats/daily", {"by": "day"}),
    ("/api/conversations", {"limit": "-4"}),
    ("/api/meta", {"x": "1"}),
]


@pytest.mark.parametrize(("path", "params"), HOSTILE_QUERIES)
def test_hostile_filters_get_400_with_a_message(client, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"] and "Traceback" not in response.text


def test_repeated_and_unknown_paths(client):
    assert client.get("/api/runs?agent=a&agent=b").status_code == 400
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/runs", params={"min_cost": "1e999"}).status_code == 400
    assert client.delete("/api/runs").status_code == 405


def test_pages_and_static_files_carry_the_security_headers(client):
    for path in ("/", "/runs", "/stats", "/conversations", "/compare", "/run/abc", "/api/runs"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
    page = client.get("/").text
    assert client.csrf in page and "<script>" not in page.replace(" ", "")
    assert client.get("/static/app.js").headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "http" not in CSP


def test_answers_orjson_refuses_go_the_json_module_way():
    from agentel.ui.app import FastJSON

    value = {"big": 2**70, "text": "é <script>", "nested": [1.5, None, True]}
    assert json.loads(FastJSON(value).body) == value
    assert json.loads(FastJSON({"spans": [{"name": "x"}]}).body) == {"spans": [{"name": "x"}]}
