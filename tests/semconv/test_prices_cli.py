"""`agentel prices [MODEL]`, run as the real installed command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agentel.semconv.pricing import default_pricebook

AGENTEL = str(Path(sys.executable).parent / "agentel")


def agentel(*args: str, pricing: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTEL_PRICING"}
    if pricing is not None:
        env["AGENTEL_PRICING"] = str(pricing)
    return subprocess.run(
        [AGENTEL, "prices", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_lists_the_catalog_as_a_table():
    out = agentel()
    assert out.returncode == 0, out.stderr
    book = default_pricebook()
    assert f"agentel price catalog {book.version} (USD per 1M tokens)" in out.stdout
    header = out.stdout.splitlines()[2]
    for column in ("provider", "model", "input", "output", "cache read", "cache write",
                   "reasoning", "as_of"):  # fmt: skip
        assert column in header
    row = next(line for line in out.stdout.splitlines() if " gpt-4o " in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:5] == ["openai", "gpt-4o", "2.5", "10", "1.25"]
    assert len([line for line in out.stdout.splitlines() if "│ catalog" in line]) == len(
        book.models()
    )


def test_lists_the_catalog_as_json_with_overrides(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"my-model": {"input": 1, "output": 2}}), encoding="utf-8")
    out = agentel("--format", "json", pricing=prices)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["currency"] == "USD" and doc["version"] == default_pricebook().version
    mine = next(m for m in doc["models"] if m["model"] == "my-model")
    assert (mine["input"], mine["output"], mine["source"]) == (1.0, 2.0, "override")
    assert mine["origin"] == str(prices)
    assert len(doc["models"]) == len(default_pricebook().models()) + 1


def test_one_model_from_the_catalog():
    out = agentel("openai/gpt-4o-2024-08-06")
    assert out.returncode == 0, out.stderr
    fields = dict(line.split(None, 1) for line in out.stdout.splitlines() if " " in line)
    assert "-> gpt-4o (match: snapshot)" in out.stdout
    assert (fields["input"], fields["output"]) == ("2.5", "10")
    assert fields["source"] == "catalog"
    assert fields["date"] == default_pricebook().version


def test_one_model_from_an_override_file_names_the_file_and_date(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"gpt-4o": {"input": 2.0, "output": 8.0, "as_of": "2026-10-01"}}),
        encoding="utf-8",
    )
    os.utime(prices, (1_790_000_000, 1_790_000_000))  # 2026-09-21 UTC
    out = agentel("gpt-4o-2024-11-20", "--format", "json", pricing=prices)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["model"], doc["match"], doc["input"], doc["output"]) == (
        "gpt-4o",
        "snapshot",
        2.0,
        8.0,
    )
    assert (doc["source"], doc["origin"], doc["origin_date"]) == (
        "override",
        str(prices),
        "2026-09-21",
    )
    assert doc["as_of"] == "2026-10-01"
    text = agentel("gpt-4o", pricing=prices).stdout
    assert f"origin       {prices}" in text and "date         2026-09-21" in text


def test_unknown_model_exits_1_naming_it():
    out = agentel("acme-llm-9000")
    assert out.returncode == 1
    assert "'acme-llm-9000'" in out.stderr and "unpriced" in out.stderr
    assert out.stdout == ""


def test_a_bad_override_file_is_reported(tmp_path):
    prices = tmp_path / "bad.json"
    prices.write_text('{"m": {"input": -1, "output": 1}}', encoding="utf-8")
    out = agentel(pricing=prices)
    assert out.returncode == 1
    assert str(prices) in out.stderr and "'input'" in out.stderr
