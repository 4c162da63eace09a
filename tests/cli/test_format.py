"""Terminal formatting: durations, money, token counts, bars and one-line clips."""

from __future__ import annotations

from agentel.cli import _format as fmt


def test_human_numbers():
    assert [fmt.duration(v) for v in (None, 0.05, 850, 1240, 185_000, 7_380_000)] == [
        "-",
        "50µs",
        "850ms",
        "1.24s",
        "3m05s",
        "2h03m",
    ]
    assert [fmt.tokens(v) for v in (None, 1234, 123_400, 418_178_000)] == [
        "-",
        "1,234",
        "123.4k",
        "418.2M",
    ]
    assert (fmt.money(0.000045), fmt.money(1961.43), fmt.money(0.5, 2)) == (
        "$0.000045",
        "$1,961.43",
        "$0.5000+?",
    )


def test_bars_are_proportional_in_eighths():
    assert fmt.bar(10, 10, 4) == "████"
    assert fmt.bar(5, 10, 4) == "██"
    assert fmt.bar(1, 10, 4) == "▍"  # 3.2 eighths -> 3
    assert fmt.bar(0.001, 10, 4) == "▏"  # never invisible when above zero
    assert fmt.bar(0, 10, 4) == "" and fmt.bar(3, 0, 4) == ""


def test_clip_makes_one_short_line():
    assert fmt.clip("a\n  b\tc") == "a b c"
    assert fmt.clip("x" * 200, 10) == "x" * 9 + "…"
    assert fmt.compact({"city": "Paris"}) == '{"city": "Paris"}'


def test_cost_chart_and_empty_costs():
    rows = [
        {"group": "a", "cost_usd": 2.0, "unpriced_calls": 0},
        {"group": None, "cost_usd": 1.0, "unpriced_calls": 1},
    ]
    chart = fmt.cost_chart(rows, "model", width=8).plain.splitlines()
    assert chart[0] == "cost by model"
    assert chart[1].startswith("a       ████████") and chart[1].endswith("$2.0000")
    assert chart[2].startswith("(none)  ████") and chart[2].endswith("$1.0000+?")
    free = [{"group": "t", "cost_usd": 0.0, "unpriced_calls": 0}]
    assert "no priced usage" in fmt.cost_chart(free, "tool").plain
