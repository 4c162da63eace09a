"""The UI in a real browser: Playwright driving Debian's headless Chromium over a store written
by scripted agents. What a person sees (names, numbers, bar widths), the clicks from runs to a
run, a span and a comparison, and stored XSS payloads that must never run.

Chromium comes from the system (``apt-get install chromium``), never from ``playwright
install``. Without it these tests skip, unless ``AGENTEL_REQUIRE_BROWSER=1`` (CI) makes that a
failure. ``AGENTEL_UI_SCREENSHOTS=docs/img`` saves the screenshots used by docs/ui.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from agentel.store import open_store
from agentel.ui import UIConfig

from .conftest import XSS_IMG, XSS_SCRIPT, running_ui

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
SCREENSHOTS = os.environ.get("AGENTEL_UI_SCREENSHOTS")
SCREENSHOTS = str(Path(SCREENSHOTS).resolve()) if SCREENSHOTS else None  # tests change cwd


def _chromium() -> str:
    given = os.environ.get("AGENTEL_CHROMIUM")
    for path in (given,) if given else CHROMIUM_CANDIDATES:
        if path and os.access(path, os.X_OK):
            return path
    how = (
        "the browser tests need Chromium: install Debian's package (sudo apt-get install "
        "chromium) or set AGENTEL_CHROMIUM to a Chromium binary"
    )
    if os.environ.get("AGENTEL_REQUIRE_BROWSER") == "1":
        pytest.fail(how + " (AGENTEL_REQUIRE_BROWSER=1 makes its absence a failure)")
    pytest.skip(how)


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def ui(agent_store, tmp_path, monkeypatch):
    """The UI over a private copy of the scripted agents' store (feedback writes to it), opened
    as ``sqlite:///store.db`` from its directory, as a person would (the screenshots show it)."""
    source = agent_store.removeprefix("sqlite:///")
    shutil.copy(source, tmp_path / "store.db")
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///store.db"
    with running_ui(UIConfig(store_url=url)) as base:
        yield base, url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.errors = []
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on(
        "console",
        lambda msg: opened.errors.append(msg.text) if msg.type == "error" else None,
    )
    yield opened
    context.close()


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"ui-{name}.png"))


def no_xss(page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("#main img, #main script").count() == 0


def test_runs_page_lists_runs_with_totals_and_filters_in_the_url(ui, page):
    base, url = ui
    page.goto(f"{base}/runs")
    rows = page.locator("#runs-table tbody tr")
    rows.first.wait_for()
    with open_store(url) as store:
        runs = store.runs(limit=None)
    assert rows.count() == len(runs) == 6
    assert page.locator("#totals").inner_text().startswith("6 runs")
    assert "1 failed" in page.locator("#totals").inner_text()
    names = page.locator("#runs-table tbody td:nth-child(3)").all_inner_texts()
    assert names.count("weather-agent") == 2 and f"{XSS_SCRIPT} agent" in names
    no_xss(page)
    shot(page, "runs")

    page.fill("input[name=agent]", "weather-agent")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/runs?agent=weather-agent")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    page.click("#runs-table th a:text('cost')")
    page.wait_for_url("**order_by=cost**")
    page.go_back()
    page.go_back()
    expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    assert page.errors == []


def test_runs_filter_by_tool_lives_in_the_url(ui, page):
    base, _ = ui
    page.goto(f"{base}/runs")
    page.locator("#runs-table tbody tr").first.wait_for()
    page.fill("input[name=tool]", "get_weather")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/runs?tool=get_weather")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    names = page.locator("#runs-table tbody td:nth-child(3)").all_inner_texts()
    assert names == ["weather-agent"] * 2
    assert page.locator("#totals").inner_text().startswith("2 runs")
    page.go_back()
    expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    page.go_forward()
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    assert page.input_value("input[name=tool]") == "get_weather"

    page.goto(f"{base}/runs?{urlencode({'tool': XSS_IMG})}")  # a tool named like markup
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    assert page.input_value("input[name=tool]") == XSS_IMG
    no_xss(page)
    assert page.errors == []


def test_run_waterfall_bars_are_proportional_and_a_span_shows_its_conversation(ui, page):
    base, url = ui
    with open_store(url) as store:
        run = store.runs(agent="weather-agent", limit=None)[-1]
        spans = {s["span_id"]: s for s in store.spans(run_id=run["run_id"])}
    page.goto(f"{base}/runs?agent=weather-agent")
    page.locator(f"tr[data-run='{run['run_id']}'] a").click()
    page.locator("#waterfall .row").first.wait_for()
    assert page.locator("#waterfall .row").count() == 4
    facts = page.locator("#run-facts")
    assert facts.locator("[data-fact='LLM calls'] dd").inner_text() == "2"
    assert facts.locator("[data-fact='tool calls'] dd").inner_text() == "1"
    kinds = page.locator("#waterfall .row").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert sorted(kinds) == ["agent", "llm", "llm", "tool"]
    assert page.locator("#waterfall .row[data-kind=llm] .kind").first.inner_text() == "LLM"

    root_span = next(s for s in spans.values() if s["parent_span_id"] not in spans)
    root = page.locator(f"#waterfall .row[data-span='{root_span['span_id']}'] .bar")
    root_width = root.bounding_box()["width"]
    track_width = page.locator("#waterfall .row .track").first.bounding_box()["width"]
    assert root_width == pytest.approx(track_width, abs=2)
    for span_id, span in spans.items():
        box = page.locator(f"#waterfall .row[data-span='{span_id}'] .bar").bounding_box()
        expected = max(span["duration_ms"] / root_span["duration_ms"] * root_width, 2)
        assert box["width"] == pytest.approx(expected, abs=2.5), span["name"]

    llm = next(s for s in spans.values() if s["category"] == "llm")
    page.locator(f"#waterfall .row[data-span='{llm['span_id']}']").click()
    conversation = page.locator("#conversation")
    conversation.wait_for()
    text = conversation.inner_text()
    assert "USER" in text.upper() and "You answer weather questions" in text
    assert page.locator("#span-detail h2").inner_text().endswith(llm["name"])
    assert (
        f"{llm['input_tokens']} / {llm['output_tokens']}"
        in page.locator("#span-detail").inner_text()
    )
    shot(page, "run")
    assert page.errors == []


def test_the_waterfall_loads_light_spans_and_a_clicked_span_is_fetched_once(ui, page):
    base, url = ui
    with open_store(url) as store:
        run = store.runs(agent="weather-agent", limit=1)[0]
        spans = store.spans(run_id=run["run_id"])
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    page.goto(f"{base}/run/{run['run_id']}")
    page.locator("#waterfall .row").first.wait_for()
    assert page.locator("#run-id").inner_text() == run["run_id"][:12]
    assert page.locator("#run-id").get_attribute("title") == run["run_id"]
    waterfall = next(u for u in asked if u.endswith("/waterfall"))
    with page.expect_response(waterfall) as answer:
        page.reload()
    assert '"attributes"' not in answer.value.text()  # no payload in the light tree
    page.locator("#waterfall .row").first.wait_for()
    tool = next(s for s in spans if s["category"] == "tool")
    llm = next(s for s in spans if s["category"] == "llm")
    asked.clear()
    page.locator(f"#waterfall .row[data-span='{tool['span_id']}']").click()
    expect(page.locator("#span-detail h2")).to_contain_text(tool["name"])
    detail = page.locator("#span-detail").inner_text()
    assert "gen_ai.tool.call.id" in detail and tool["attributes"]["gen_ai.tool.call.id"] in detail
    page.locator(f"#waterfall .row[data-span='{llm['span_id']}']").click()
    expect(page.locator("#conversation")).to_contain_text("You answer weather questions")
    page.locator(f"#waterfall .row[data-span='{tool['span_id']}']").click()
    expect(page.locator("#span-detail h2")).to_contain_text(tool["name"])
    assert [u.split("/api/", 1)[1] for u in asked] == [
        f"spans/{s['trace_id']}/{s['span_id']}" for s in (tool, llm)
    ]  # each span fetched once, when first clicked
    selected = page.locator("#waterfall .row.selected")
    assert selected.count() == 1 and selected.get_attribute("data-span") == tool["span_id"]
    assert page.errors == []


def test_runs_show_unique_id_prefixes_and_no_paths(ui, page):
    base, url = ui
    page.goto(f"{base}/runs")
    page.locator("#runs-table tbody tr").first.wait_for()
    with open_store(url) as store:
        ids = [r["run_id"] for r in store.runs(limit=None)]
    shown = page.locator("#runs-table tbody td:nth-child(2) a").all_inner_texts()
    assert len(set(shown)) == len(ids) and all(len(p) >= 12 for p in shown)
    for run_id, prefix in zip(ids, shown, strict=True):
        assert run_id.startswith(prefix) and len(prefix) < len(run_id)
        assert sum(other.startswith(prefix) for other in ids) == 1
    assert page.locator("#store").inner_text().startswith("sqlite:///store.db")
    assert page.errors == []


def test_collapsing_a_span_hides_its_children(ui, page):
    base, url = ui
    with open_store(url) as store:
        run = store.runs(agent="weather-agent", limit=1)[0]
    page.goto(f"{base}/run/{run['run_id']}")
    page.locator("#waterfall .row").first.wait_for()
    page.locator("#waterfall .row .toggle").first.click()
    assert page.locator("#waterfall .row").count() == 1
    page.locator("#waterfall .row .toggle").first.click()
    assert page.locator("#waterfall .row").count() == 4


def test_stored_xss_payloads_show_as_text_and_never_run(ui, page):
    base, url = ui
    with open_store(url) as store:
        run = store.runs(agent=f"{XSS_SCRIPT} agent", limit=1)[0]
        flaky = store.runs(agent="flaky-agent", limit=1)[0]
    page.goto(f"{base}/run/{run['run_id']}")
    page.locator("#waterfall .row").first.wait_for()
    assert XSS_SCRIPT in page.locator("h1").inner_text()
    for row in range(page.locator("#waterfall .row").count()):
        page.locator("#waterfall .row").nth(row).click()
        page.locator("#span-detail h2").wait_for()
        no_xss(page)
    detail = page.locator("#span-detail").inner_text()
    assert XSS_IMG in detail  # the tool's name and arguments, as text
    page.locator("#waterfall .row").first.click()
    assert XSS_IMG + XSS_SCRIPT in page.locator("#conversation").inner_text()
    no_xss(page)
    page.goto(f"{base}/run/{flaky['run_id']}")
    page.locator("#waterfall .row").first.wait_for()
    page.locator("#waterfall .row[data-kind=tool]").click()
    assert "RuntimeError" in page.locator("#span-detail .exception").inner_text()
    assert "boom " + XSS_IMG in page.locator("#span-detail").inner_text()
    no_xss(page)
    page.goto(f"{base}/conversations")
    page.locator("#conversations-table").wait_for()
    assert f"conv-{XSS_IMG}" in page.locator("#conversations-table").inner_text()
    no_xss(page)
    assert page.errors == []


def test_compare_two_runs_picked_in_the_table(ui, page):
    base, url = ui
    page.goto(f"{base}/runs?agent=weather-agent")
    page.locator("#runs-table tbody tr").first.wait_for()
    boxes = page.locator("#runs-table tbody input[type=checkbox]")
    assert page.locator("#compare-button").is_disabled()
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#compare-button")
    page.locator("#compare-steps").wait_for()
    assert page.locator("#compare-steps tbody tr").count() == 3
    with open_store(url) as store:
        newer, older = store.runs(agent="weather-agent", limit=None)
    tokens = page.locator("#compare-totals tr[data-total=input_tokens] td").all_inner_texts()
    delta = older["input_tokens"] - newer["input_tokens"]
    assert tokens[:2] == [str(newer["input_tokens"]), str(older["input_tokens"])]
    assert tokens[2].startswith({1: "+", -1: "\u2212", 0: "\u00b1"}[(delta > 0) - (delta < 0)])
    tool_row = page.locator("#compare-steps tbody tr").nth(1)
    assert tool_row.get_attribute("data-status") == "changed"
    assert "arguments" in tool_row.inner_text()
    shot(page, "compare")
    assert page.errors == []


def test_stats_and_conversations_pages(ui, page):
    base, _ = ui
    page.goto(f"{base}/stats?since=7d")
    page.locator(".chart svg").first.wait_for()
    assert page.locator(".chart").count() == 5
    assert "gpt-4o-mini (solid)" in page.locator(".chart").first.inner_text()
    assert "get_weather" in page.locator(".chart").nth(3).inner_text()
    for svg in page.locator(".chart svg[role=img]").all():  # every axis label fully inside
        inside = svg.evaluate(
            "(s) => [...s.querySelectorAll('text')].every((t) => t.getBBox().x >= 0)"
        )
        assert inside, svg.get_attribute("aria-label")
    shot(page, "stats")
    page.goto(f"{base}/conversations")
    page.locator("#conversations-table").wait_for()
    assert page.locator("#conversations-table tbody tr").count() == 1
    page.locator("#conversations-table tbody a").click()
    page.wait_for_url("**/runs?conversation=**")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    assert page.errors == []


def test_feedback_from_the_run_page_is_stored(ui, page):
    base, url = ui
    with open_store(url) as store:
        run = store.runs(agent="weather-agent", limit=1)[0]
    page.goto(f"{base}/run/{run['run_id']}")
    page.fill("#feedback-form input[name=score]", "0.75")
    page.fill("#feedback-form input[name=comment]", "<img src=x onerror=alert(1)> good")
    page.click("#feedback-form button")
    expect(page.locator("#feedback-status")).to_contain_text("0.75")
    assert page.locator("[data-fact=feedback] dd").inner_text() == "0.75"
    with open_store(url) as store:
        assert store.run(run["run_id"])["feedback"] == 0.75
    no_xss(page)


BIG = """
import agentel.sdk
from agentel.instrumentation import agent, tool

handle = agentel.sdk.configure(service_name="big")
with agent("big-agent"):
    for i in range(9_999):
        with tool(f"step-{i}"):
            pass
handle.shutdown()
"""


def test_a_10k_span_run_renders_only_the_visible_rows(browser, page, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", BIG],
        cwd=tmp_path,
        env={**os.environ, "AGENTEL_STORE": "sqlite:///big.db"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    url = f"sqlite:///{tmp_path / 'big.db'}"
    with open_store(url) as store:
        (run,) = store.runs()
    assert run["span_count"] == 10_000
    with running_ui(UIConfig(store_url=url)) as base:
        page.goto(f"{base}/run/{run['run_id']}")
        page.locator("#waterfall .row").first.wait_for()
        assert page.locator("#waterfall .row").count() < 200
        page.locator("#waterfall").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_selector("#waterfall .row:has-text('step-9998')")
        assert page.locator("#waterfall .row").count() < 200
        page.locator("#waterfall .row:has-text('step-9998')").click()
        expect(page.locator("#span-detail h2")).to_contain_text("step-9998")
        assert "gen_ai.tool.name" in page.locator("#span-detail").inner_text()
    assert page.errors == []
