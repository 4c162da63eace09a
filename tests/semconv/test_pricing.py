"""Pricing catalog, name matching, overrides and cost arithmetic (no mocks: real files, real env)."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import threading
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentel.semconv import attributes as A
from agentel.semconv import pricing
from agentel.semconv.pricing import (
    FAMILY_WORDS,
    Cost,
    ModelPrice,
    PriceBook,
    PricingError,
    cost_attributes,
    default_pricebook,
    set_default_pricebook,
)

PRICES_JSON = Path(pricing.__file__).with_name("prices.json")


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


@pytest.fixture
def fresh_default():
    set_default_pricebook(None)
    yield
    set_default_pricebook(None)


def small_book(*names: str, **kw) -> PriceBook:
    """A catalog holding only ``names`` (1.0 in / 2.0 out), to test matching in isolation."""
    models = {n: {"provider": "test", "input": 1.0, "output": 2.0} for n in names}
    return PriceBook({"version": "t-1", "models": models}, **kw)


def matched(b: PriceBook, name: str, provider: str | None = None) -> str | None:
    price = b.lookup(name, provider)
    return price.model if price else None


def write_json(tmp_path: Path, data, name: str = "prices.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# --- the shipped catalog ------------------------------------------------------------------------


def test_catalog_header():
    doc = json.loads(PRICES_JSON.read_text(encoding="utf-8"))
    assert doc["currency"] == "USD"
    assert doc["unit"] == "per 1M tokens"
    date.fromisoformat(doc["version"])
    assert PriceBook().version == doc["version"]


def test_catalog_entries_are_complete():
    doc = json.loads(PRICES_JSON.read_text(encoding="utf-8"))
    assert len(doc["models"]) >= 60
    for key, entry in doc["models"].items():
        assert key == key.strip().lower(), key
        assert entry["provider"], key
        for field in ("input", "output"):
            assert isinstance(entry[field], (int, float)) and entry[field] >= 0, (key, field)
        date.fromisoformat(entry["as_of"])
        assert entry["as_of"] <= doc["version"], key
        assert "https://" in entry["note"], key


@pytest.mark.parametrize(
    "model",
    [
        # the families the catalog must cover
        "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
        "gpt-4o", "gpt-4o-mini", "o1", "o3", "o3-mini", "o4-mini",
        "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
        "claude-opus-4-1", "claude-opus-4", "claude-sonnet-4-5", "claude-sonnet-4",
        "claude-haiku-4-5", "claude-3-7-sonnet", "claude-3-5-sonnet", "claude-3-5-haiku",
        "claude-3-haiku", "claude-3-opus",
        "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash",
        "mistral-large", "mistral-medium", "mistral-small", "codestral",
        "deepseek-chat", "deepseek-reasoner", "grok-4", "grok-3", "grok-3-mini",
    ],
)  # fmt: skip
def test_catalog_covers(book, model):
    price = book.lookup(model)
    assert price is not None and price.model == model
    assert price.source == "catalog" and price.origin == book.version


def test_anthropic_cache_prices_follow_the_multipliers(book):
    claude = [p for p in book.models() if p.provider == "anthropic"]
    assert len(claude) >= 10
    for p in claude:
        if p.model == "claude-3-haiku":  # the pricing page lists $0.30 / $0.03 for Haiku 3
            assert (p.cache_write, p.cache_read) == (0.30, 0.03)
            continue
        assert p.cache_write == pytest.approx(1.25 * p.input), p.model
        assert p.cache_read == pytest.approx(0.1 * p.input), p.model


def test_every_catalog_model_matches_itself(book):
    for price in book.models():
        assert book.lookup(price.model) is price
        assert book.describe(price.model)["match"] == "exact"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("o3-2025-04-16", "o3"),
        ("o4-mini-2025-04-16", "o4-mini"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("mistral-large-latest", "mistral-large"),
        ("grok-4-0709", "grok-4"),
    ],
)
def test_dated_variants_match_their_family(book, name, key):
    assert matched(book, name) == key


def test_a_snapshot_with_its_own_price_wins_over_the_family(book):
    # the first gpt-4o snapshot kept its launch price
    assert book.lookup("gpt-4o-2024-05-13").input == 5.0
    assert book.lookup("gpt-4o-2024-08-06").input == 2.5


# --- rule 1: exact, case-insensitive ------------------------------------------------------------


@pytest.mark.parametrize("name", ["gpt-4o", "GPT-4o", "  Gpt-4O  "])
def test_exact_is_case_insensitive(book, name):
    assert matched(book, name) == "gpt-4o"
    assert book.describe(name)["match"] == "exact"


def test_provider_qualified_key_wins_when_the_provider_is_given():
    b = PriceBook(
        overrides={"azure.ai.openai/gpt-4o": {"input": 9.0, "output": 9.0}},
    )
    assert b.lookup("gpt-4o", "azure.ai.openai").input == 9.0
    assert b.lookup("gpt-4o-2024-08-06", "Azure.AI.OpenAI").input == 9.0
    assert b.lookup("gpt-4o", "openai").input == 2.5  # the provider is only a selector
    assert b.lookup("gpt-4o").input == 2.5


# --- rule 2: provider prefixes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("openai/gpt-4o", "gpt-4o"),
        ("azure/gpt-4.1-mini", "gpt-4.1-mini"),
        ("anthropic/claude-3-7-sonnet", "claude-3-7-sonnet"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),  # OpenRouter-style dots
        ("anthropic/claude-3.5-haiku", "claude-3-5-haiku"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("vertex_ai/gemini-2.0-flash", "gemini-2.0-flash"),
        ("projects/p/locations/us/publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("xai/grok-3-mini", "grok-3-mini"),
        ("x-ai/grok-4.3", "grok-4.3"),
        ("mistral/mistral-small", "mistral-small"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        ("anthropic.claude-3-haiku", "claude-3-haiku"),
    ],
)
def test_provider_prefix_is_stripped(book, name, key):
    assert matched(book, name) == key
    assert book.describe(name)["match"] == "provider-prefix"


# --- rule 3: snapshot suffixes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),  # Vertex
        ("claude-sonnet-4@20250514", "claude-sonnet-4"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),  # Bedrock
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("mistral.mistral-large-2407-v1:0", "mistral-large-2407"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-opus-4-0", "claude-opus-4"),  # "-0" minor version alias
        ("gpt-4o-2024-11-20", "gpt-4o"),
        ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"),
        ("gemini-3-pro-preview", "gemini-3-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.0-flash-lite-001", "gemini-2.0-flash-lite"),
        ("gemini-2.5-pro@001", "gemini-2.5-pro"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("mistral-medium-2505", "mistral-medium"),
        ("codestral-2501", "codestral"),
        ("o1-preview", "o1"),
    ],
)
def test_snapshot_suffix_is_stripped(book, name, key):
    assert matched(book, name) == key
    assert book.describe(name)["match"] == "snapshot"


# --- rule 4: longest prefix, with the family guard ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("gpt-5-chat-latest", "gpt-5"),
        ("grok-4-fast-reasoning", "grok-4-fast"),
        ("grok-4-1-fast-non-reasoning", "grok-4-1-fast"),
        ("grok-4.20-0309-reasoning", "grok-4.20"),
        ("o3-mini-high", "o3-mini"),
        ("gpt-4.1-nano-x", "gpt-4.1-nano"),  # its own family, never gpt-4.1
    ],
)
def test_prefix_match(book, name, key):
    assert matched(book, name) == key
    assert book.describe(name)["match"] == "prefix"


def test_prefix_prefers_the_longest_key():
    b = small_book("acme", "acme-chat", "acme-chat-x")
    assert matched(b, "acme-chat-x-2") is None  # "2" after acme-chat-x is a version
    assert matched(b, "acme-chat-x-beta") == "acme-chat-x"
    assert matched(b, "acme-chat-beta") == "acme-chat"
    assert matched(b, "acme-beta") == "acme"


# The family guard: a small catalog without the sub-family, so nothing else can match first.
GUARD_BOOK_MODELS = (
    "gpt-4o", "gpt-4.1", "gpt-5", "o3", "gemini-2.5-flash", "claude-opus-4", "grok-4",
    "claude-3-5-sonnet", "mistral-medium", "ministral",
)  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "openai/gpt-4o-mini",
        "gpt-4o-realtime-preview",
        "gpt-4o-audio-preview-2024-12-17",
        "gpt-4o-search-preview",
        "gpt-4o-mini-tts",
        "gpt-4o-transcribe",
        "gpt-4.1-nano",
        "gpt-4.1-nano-x",
        "gpt-4.1-mini-2025-04-14",
        "gpt-5-pro",
        "gpt-5-codex",
        "o3-pro",
        "o3-pro-2025-06-10",
        "o3-mini",
        "o3-deep-research",
        "gemini-2.5-flash-lite",
        "gemini-2.5-flash-lite-preview-06-17",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash-live",
        "claude-opus-4-6",  # another minor version: another price
        "claude-opus-4-5-20251101",
        "claude-opus-4.7",
        "grok-4-fast-reasoning",
        "grok-4-1-fast",
        "claude-3-5-sonnet-v2-beta",
        "mistral-medium-3.5",
        "ministral-8b",
        "gpt-4omni",  # not a '-' boundary
        "gpt-4",  # shorter than any key
        "gpt-5.1",  # '.' is not a boundary either
    ],
)
def test_family_guard_refuses_near_misses(name):
    b = small_book(*GUARD_BOOK_MODELS)
    assert b.lookup(name) is None, f"{name} matched {matched(b, name)}"


def test_family_guard_works_both_ways():
    assert small_book("gpt-4o-mini").lookup("gpt-4o") is None
    assert small_book("o3-pro").lookup("o3") is None
    assert small_book("gemini-2.5-flash-lite").lookup("gemini-2.5-flash") is None


@pytest.mark.parametrize("word", sorted(FAMILY_WORDS))
def test_every_family_word_blocks_the_prefix_rule(word):
    b = small_book("acme-1")
    assert b.lookup(f"acme-1-{word}") is None
    assert b.lookup(f"acme-1-2026-01-01-{word}") is None
    assert b.lookup(f"acme-1-{word.upper()}-beta") is None
    assert matched(b, "acme-1-beta") == "acme-1"


def test_shipped_catalog_keeps_families_apart(book):
    assert matched(book, "gpt-4o-mini") == "gpt-4o-mini"
    assert matched(book, "gpt-4o") == "gpt-4o"
    assert matched(book, "o3-pro") == "o3-pro"
    assert matched(book, "gemini-2.5-flash-lite") == "gemini-2.5-flash-lite"
    for name in ("gpt-4o-mini-tts", "gpt-4o-realtime-preview", "grok-3-fast", "grok-3-mini-fast"):
        assert book.lookup(name) is None, name


@pytest.mark.parametrize("name", ["", "   ", "nope", "ft:gpt-4o-mini-2024-07-18:org::abc"])
def test_unknown_names_are_unpriced(book, name):
    assert book.lookup(name) is None
    assert book.cost(name, input_tokens=10, output_tokens=10) is None
    assert book.describe(name) is None


def test_unpriced_model_none(book):
    assert book.cost(None, input_tokens=1000, output_tokens=1000) is None
    assert book.cost(None, "openai") is None


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(GUARD_BOOK_MODELS),
    word=st.sampled_from(sorted(FAMILY_WORDS)),
    tail=st.from_regex(r"(-[a-z0-9]{1,6}){0,3}", fullmatch=True),
)
def test_property_a_family_word_never_falls_back_to_the_shorter_key(key, word, tail):
    b = small_book(*GUARD_BOOK_MODELS)
    price = b.lookup(f"{key}-{word}{tail}")
    assert price is None or price.model != key


# --- overrides ----------------------------------------------------------------------------------


def test_constructor_override_adds_and_replaces():
    b = PriceBook(
        overrides={
            "my-model": {"input": 1.0, "output": 2.0, "provider": "openai"},
            "GPT-4o": {"input": 0.5, "output": 1.0},
        }
    )
    mine = b.lookup("my-model")
    assert (mine.input, mine.output, mine.provider) == (1.0, 2.0, "openai")
    assert mine.source == "override" and mine.origin == "configure(prices=...)"
    assert b.lookup("gpt-4o").input == 0.5
    # ... and for everything that key matches, even a catalog snapshot with its own price
    assert b.lookup("openai/gpt-4o-2024-08-06").input == 0.5
    assert b.lookup("gpt-4o-2024-05-13").input == 0.5
    # but never across families
    assert b.lookup("gpt-4o-mini").source == "catalog"
    assert b.lookup("my-model-latest").model == "my-model"


def test_constructor_override_origin_and_models_form():
    b = PriceBook(overrides={"models": {"x-1": {"input": 1, "output": 1}}}, override_origin="cli")
    cost = b.cost("x-1", input_tokens=1_000_000)
    assert cost.source == "override" and cost.price_version == "override:cli"


def test_models_lists_effective_entries_sorted():
    b = PriceBook(
        overrides={"gpt-4o": {"input": 0.5, "output": 1.0}, "zz-local": {"input": 0, "output": 0}}
    )
    models = b.models()
    keys = [(p.provider or "", p.model) for p in models]
    assert keys == sorted(keys)
    assert next(p for p in models if p.model == "gpt-4o").source == "override"
    assert [p.model for p in models].count("gpt-4o") == 1
    # entries without a provider (both overrides here) sort first
    assert [p.model for p in models[:2]] == ["gpt-4o", "zz-local"]


def test_env_file_overrides(tmp_path, monkeypatch):
    path = write_json(
        tmp_path,
        {
            "models": {
                "my-model": {"input": 1.0, "output": 2.0, "cache_read": 0.1, "cache_write": 1.25,
                             "reasoning": 3.0, "provider": "openai", "as_of": "2026-10-01",
                             "note": "our contract"},
                "claude-sonnet-4": {"input": 2.0, "output": 10.0},
            },
            "currency": "USD",
        },
    )  # fmt: skip
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    b = PriceBook.from_env()
    mine = b.lookup("my-model")
    assert mine == ModelPrice(
        model="my-model", provider="openai", input=1.0, output=2.0, cache_read=0.1,
        cache_write=1.25, reasoning=3.0, source="override", origin=str(path),
        as_of="2026-10-01", note="our contract",
    )  # fmt: skip
    sonnet = b.lookup("us.anthropic.claude-sonnet-4-20250514-v1:0")
    assert sonnet.input == 2.0 and sonnet.origin == str(path)
    assert sonnet.cache_read is None  # not inherited from the catalog entry it replaces
    cost = b.cost("claude-sonnet-4", input_tokens=1_000_000)
    assert cost.price_version == f"override:{path}"
    desc = b.describe("claude-sonnet-4-20250514")
    assert desc["source"] == "override" and desc["origin"] == str(path)
    assert desc["match"] == "snapshot" and desc["model"] == "claude-sonnet-4"
    os.utime(path, (1_790_000_000, 1_790_000_000))  # 2026-09-21 UTC
    assert PriceBook.from_env().describe("claude-sonnet-4")["origin_date"] == "2026-09-21"


def test_env_file_bare_form_and_configure_overrides_win(tmp_path, monkeypatch):
    path = write_json(
        tmp_path, {"m-1": {"input": 1, "output": 1}, "m-2": {"input": 2, "output": 2}}
    )
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    b = PriceBook.from_env({"m-2": {"input": 5, "output": 5}})
    assert b.lookup("m-1").origin == str(path)
    assert b.lookup("m-2").input == 5.0
    assert b.lookup("m-2").origin == "configure(prices=...)"
    assert b.lookup("gpt-4o").source == "catalog"


def test_from_env_without_the_variable(monkeypatch):
    monkeypatch.delenv(A.ENV_PRICING, raising=False)
    b = PriceBook.from_env()
    assert b.lookup("gpt-4o").source == "catalog"
    monkeypatch.setenv(A.ENV_PRICING, "  ")
    assert PriceBook.from_env().lookup("gpt-4o").source == "catalog"


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{"m": {"input": 1, "output": 2,}}', ["invalid JSON", "line 1"]),
        ("", ["invalid JSON"]),
        ({"m": {"input": -1, "output": 2}}, ["'m'", "'input'", ">= 0", "-1"]),
        ({"m": {"input": 1}}, ["'m'", "missing required field 'output'"]),
        ({"models": {"m": {"output": 1}}}, ["'m'", "'input'"]),
        ({"m": {"input": "1.5", "output": 2}}, ["'m'", "'input'", "must be a number"]),
        ('{"m": {"input": NaN, "output": 2}}', ["'m'", "'input'", "finite"]),
        ('{"m": {"input": 1, "output": Infinity}}', ["'m'", "'output'", "finite"]),
        ({"m": {"input": True, "output": 2}}, ["'input'", "must be a number"]),
        ({"m": {"input": 1, "output": 2, "cached_input": 0.5}}, ["'m'", "unknown field 'cached_input'"]),
        ({"m": {"input": 1, "output": 2, "provider": 7}}, ["'m'", "'provider'", "string"]),
        ({"m": 3}, ["'m'", "must be an object"]),
        ([1, 2], ["expected a JSON object"]),
        ({"models": {"m": {"input": 1, "output": 2}}, "currency": "EUR"}, ["currency", "EUR"]),
        ({"models": {"m": {"input": 1, "output": 2}}, "gpt-4o": {}}, ["unexpected top-level key 'gpt-4o'"]),
    ],
)  # fmt: skip
def test_bad_override_file(tmp_path, monkeypatch, content, fragments):
    path = write_json(tmp_path, content)
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    with pytest.raises(PricingError) as info:
        PriceBook.from_env()
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_override_file(tmp_path, monkeypatch):
    path = tmp_path / "nope.json"
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    with pytest.raises(PricingError, match="cannot read") as info:
        PriceBook.from_env()
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_constructor_override_names_its_origin():
    with pytest.raises(PricingError) as info:
        PriceBook(overrides={"my-model": {"input": 1.0, "output": -2.0}})
    message = str(info.value)
    assert "configure(prices=...)" in message and "'my-model'" in message
    assert "'output'" in message
    with pytest.raises(PricingError, match=r"\(prices=\.\.\.\).*'my-model'.*'output'"):
        PriceBook.from_env({"my-model": {"input": 1.0}})


def test_bad_custom_catalog():
    with pytest.raises(PricingError, match=r"price catalog.*'m'.*'input'"):
        PriceBook({"version": "x", "models": {"m": {"input": -1, "output": 1}}})


# --- cost arithmetic ----------------------------------------------------------------------------


def test_cost_with_cache_read_and_write(book):
    # claude-sonnet-4: input 3.00, output 15.00, cache_read 0.30, cache_write 3.75 per 1M
    c = book.cost(
        "claude-sonnet-4-20250514",
        "anthropic",
        input_tokens=10_000,  # includes the 6_000 cache reads and 2_000 cache writes
        output_tokens=1_000,
        cache_read_tokens=6_000,
        cache_write_tokens=2_000,
    )
    # uncached input: 10_000 - 6_000 - 2_000 = 2_000 * 3.00 / 1e6 = 0.006
    assert c.input == pytest.approx(0.006, abs=1e-12)
    # cache read: 6_000 * 0.30 / 1e6 = 0.0018
    assert c.cache_read == pytest.approx(0.0018, abs=1e-12)
    # cache write: 2_000 * 3.75 / 1e6 = 0.0075
    assert c.cache_write == pytest.approx(0.0075, abs=1e-12)
    # output: 1_000 * 15.00 / 1e6 = 0.015; no reasoning
    assert c.output == pytest.approx(0.015, abs=1e-12)
    assert c.reasoning == 0
    # total: 0.006 + 0.0018 + 0.0075 + 0.015 = 0.0303
    assert c.total == pytest.approx(0.0303, abs=1e-12)
    assert (c.currency, c.source, c.model) == ("USD", "catalog", "claude-sonnet-4")
    assert c.price_version == book.version


def test_cost_with_reasoning(book):
    # o3: input 2.00, cached input 0.50, output 8.00 per 1M; no separate reasoning price
    c = book.cost(
        "o3-2025-04-16",
        input_tokens=5_000,  # 1_000 of them cached
        cache_read_tokens=1_000,
        output_tokens=3_000,  # includes 2_000 reasoning tokens
        reasoning_tokens=2_000,
    )
    # input: (5_000 - 1_000) * 2.00 / 1e6 = 0.008
    # cache read: 1_000 * 0.50 / 1e6 = 0.0005
    # reasoning at the output price: 2_000 * 8.00 / 1e6 = 0.016
    # visible output: (3_000 - 2_000) * 8.00 / 1e6 = 0.008
    # total: 0.008 + 0.0005 + 0.016 + 0.008 = 0.0325
    assert (c.input, c.cache_read, c.cache_write) == pytest.approx((0.008, 0.0005, 0.0), abs=1e-12)
    assert (c.reasoning, c.output) == pytest.approx((0.016, 0.008), abs=1e-12)
    assert c.total == pytest.approx(0.0325, abs=1e-12)


def test_cost_fallback_prices():
    # no cache or reasoning prices: cache tokens cost the input price, reasoning the output price
    b = PriceBook(overrides={"plain": {"input": 1.0, "output": 4.0}})
    c = b.cost(
        "plain",
        input_tokens=1_000,
        cache_read_tokens=200,
        cache_write_tokens=300,
        output_tokens=500,
        reasoning_tokens=100,
    )
    # input: (1_000 - 200 - 300) * 1.0 = 500 -> 0.0005
    # cache read: 200 * 1.0 -> 0.0002; cache write: 300 * 1.0 -> 0.0003
    # reasoning: 100 * 4.0 = 400 -> 0.0004; output: (500 - 100) * 4.0 = 1_600 -> 0.0016
    # total: 500 + 200 + 300 + 400 + 1_600 = 3_000 -> 0.003 (the same as no split at all)
    assert c.input == pytest.approx(0.0005, abs=1e-12)
    assert c.cache_read == pytest.approx(0.0002, abs=1e-12)
    assert c.cache_write == pytest.approx(0.0003, abs=1e-12)
    assert c.reasoning == pytest.approx(0.0004, abs=1e-12)
    assert c.output == pytest.approx(0.0016, abs=1e-12)
    assert c.total == pytest.approx(0.003, abs=1e-12)
    assert c.total == pytest.approx(b.cost("plain", input_tokens=1_000, output_tokens=500).total)


def test_cost_with_a_reasoning_price():
    b = PriceBook(overrides={"r": {"input": 1.0, "output": 4.0, "reasoning": 10.0}})
    c = b.cost("r", output_tokens=500, reasoning_tokens=100)
    # reasoning: 100 * 10.0 / 1e6 = 0.001; output: 400 * 4.0 / 1e6 = 0.0016; total 0.0026
    assert (c.reasoning, c.output, c.total) == pytest.approx((0.001, 0.0016, 0.0026), abs=1e-12)


def test_cost_never_goes_negative():
    b = PriceBook(overrides={"p": {"input": 1.0, "output": 2.0, "cache_read": 0.5}})
    # cache reads larger than the input count (a provider that reports them separately):
    # uncached input clamps to 0, cache reads are still billed: 150 * 0.5 / 1e6 = 0.000075
    c = b.cost("p", input_tokens=100, cache_read_tokens=150)
    assert c.input == 0 and c.cache_read == pytest.approx(0.000075, abs=1e-12)
    # reasoning larger than output: visible output clamps to 0, reasoning 50 * 2.0 / 1e6
    c = b.cost("p", output_tokens=10, reasoning_tokens=50)
    assert c.output == 0 and c.reasoning == pytest.approx(0.0001, abs=1e-12)
    c = b.cost("p", input_tokens=-5, output_tokens=None)
    assert c.total == 0


def test_cost_rounds_away_float_noise():
    b = PriceBook(overrides={"p": {"input": 0.1, "output": 0.1}})
    # 7 * 0.1 = 0.7000000000000001 in floats; 12-decimal rounding gives exactly 7e-07
    assert b.cost("p", input_tokens=7).total == 7e-07


def test_cost_with_zero_tokens_is_zero_not_none(book):
    c = book.cost("gpt-4o")
    assert c is not None and c.total == 0.0


def test_embedding_has_no_output_price(book):
    # text-embedding-3-small: 0.02 per 1M input tokens; 1_000_000 tokens -> 0.02
    c = book.cost("text-embedding-3-small", input_tokens=1_000_000)
    assert c.total == pytest.approx(0.02, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    inp=st.integers(0, 10**7),
    out=st.integers(0, 10**7),
    cr=st.integers(0, 10**7),
    cw=st.integers(0, 10**7),
    rs=st.integers(0, 10**7),
)
def test_property_parts_add_up(inp, out, cr, cw, rs):
    b = PriceBook(
        overrides={"p": {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": 3.75}}
    )
    c = b.cost("p", input_tokens=inp, output_tokens=out, cache_read_tokens=cr,
               cache_write_tokens=cw, reasoning_tokens=rs)  # fmt: skip
    parts = (c.input, c.output, c.cache_read, c.cache_write, c.reasoning)
    assert all(p >= 0 for p in parts)
    assert c.total == pytest.approx(sum(parts), abs=1e-9)


def _float_cost(price: ModelPrice, inp: int, out: int, cr: int, cw: int, rs: int) -> tuple:
    """The cost as the per-1M-token prices say, in floats rounded to 12 places (the reference
    the integer picodollar arithmetic must reproduce)."""
    read = price.input if price.cache_read is None else price.cache_read
    write = price.input if price.cache_write is None else price.cache_write
    reasoning = price.output if price.reasoning is None else price.reasoning
    parts = (
        max(0, inp - cr - cw) * price.input / 1e6,
        max(0, out - rs) * price.output / 1e6,
        cr * read / 1e6,
        cw * write / 1e6,
        rs * reasoning / 1e6,
    )
    return tuple(round(v, 12) for v in (sum(parts), *parts))


@settings(max_examples=300)
@given(
    index=st.integers(0, 10_000),
    inp=st.integers(0, 2_000_000),
    out=st.integers(0, 200_000),
    cached=st.floats(0, 1),
    written=st.floats(0, 1),
    thinking=st.floats(0, 1),
)
def test_property_integer_pricing_equals_the_float_formula_on_every_catalog_model(
    book, index, inp, out, cached, written, thinking
):
    price = book.models()[index % len(book.models())]
    cr = int(inp * cached)
    cw = int((inp - cr) * written)
    rs = int(out * thinking)
    c = book.cost(price.model, price.provider, input_tokens=inp, output_tokens=out,
                  cache_read_tokens=cr, cache_write_tokens=cw, reasoning_tokens=rs)  # fmt: skip
    got = (c.total, c.input, c.output, c.cache_read, c.cache_write, c.reasoning)
    assert got == _float_cost(price, inp, out, cr, cw, rs)
    fast = book.cost_attributes(price.model, price.provider, input_tokens=inp, output_tokens=out,
                                cache_read_tokens=cr, cache_write_tokens=cw,
                                reasoning_tokens=rs)  # fmt: skip
    assert fast == cost_attributes(c)


def test_cost_attributes_of_an_unknown_model_are_none(book):
    assert book.cost_attributes("no-such-model-xyz", input_tokens=10) is None
    assert book.cost_attributes("no-such-model-xyz", input_tokens=10) is None  # cached miss
    assert book.cost_attributes(None, input_tokens=10) is None


def test_cost_attributes_resolved_once_per_model_match_the_cost_on_every_call():
    """The per-model cache keeps the override's price and version, per provider key."""
    override = {"gpt-4o": {"input": 1.0, "output": 2.0}}
    b = PriceBook(overrides=override)
    for tokens in (10, 20, 10):
        fast = b.cost_attributes("gpt-4o", "openai", input_tokens=tokens, output_tokens=tokens)
        slow = cost_attributes(
            b.cost("gpt-4o", "openai", input_tokens=tokens, output_tokens=tokens)
        )
        assert fast == slow
        assert fast["agentel.cost.price_version"].startswith("override:")
    catalog = PriceBook()
    assert catalog.cost_attributes("gpt-4o", None, input_tokens=10) == cost_attributes(
        catalog.cost("gpt-4o", input_tokens=10)
    )


def test_cost_attributes(book):
    c = book.cost("gpt-4o", input_tokens=1_000, output_tokens=100)
    attrs = cost_attributes(c)
    assert attrs == {
        A.GEN_AI_USAGE_COST: c.total,
        A.AGENTEL_COST_INPUT: c.input,
        A.AGENTEL_COST_OUTPUT: c.output,
        A.AGENTEL_COST_SOURCE: "catalog",
        A.AGENTEL_COST_PRICE_VERSION: book.version,
    }
    assert all(isinstance(v, (float, str)) for v in attrs.values())


def test_cost_attributes_leave_out_zero_parts_but_keep_a_zero_total(book):
    cached = book.cost("gpt-4o", input_tokens=1_000, cache_read_tokens=1_000, output_tokens=0)
    attrs = cost_attributes(cached)
    assert attrs[A.AGENTEL_COST_CACHE_READ] == cached.cache_read > 0
    assert A.AGENTEL_COST_INPUT not in attrs and A.AGENTEL_COST_OUTPUT not in attrs
    assert A.AGENTEL_COST_REASONING not in attrs and A.AGENTEL_COST_CACHE_WRITE not in attrs
    free = cost_attributes(book.cost("gpt-4o", input_tokens=0, output_tokens=0))
    assert free[A.GEN_AI_USAGE_COST] == 0.0


def test_cost_is_a_frozen_dataclass(book):
    c = book.cost("gpt-4o", input_tokens=1)
    assert isinstance(c, Cost)
    with pytest.raises(AttributeError):
        c.total = 1.0  # type: ignore[misc]
    # built without __init__ (for speed), it is still a complete, comparable, hashable Cost
    rebuilt = Cost(**dataclasses.asdict(c))
    assert c == rebuilt and hash(c) == hash(rebuilt) and repr(c) == repr(rebuilt)


# --- describe, cache, default book --------------------------------------------------------------


def test_describe(book):
    d = book.describe("openai/gpt-4o-2024-08-06")
    assert d["model"] == "gpt-4o" and d["match"] == "snapshot"
    assert (d["input"], d["output"], d["cache_read"]) == (2.5, 10.0, 1.25)
    assert d["source"] == "catalog" and d["origin"] == book.version
    assert d["origin_date"] == book.version  # the shipped catalog is versioned by its date
    configured = PriceBook(overrides={"mine": {"input": 1, "output": 1}}).describe("mine")
    assert (configured["origin"], configured["origin_date"]) == ("configure(prices=...)", None)
    assert d["as_of"] and d["note"].startswith("https://")
    assert (d["currency"], d["unit"]) == ("USD", "per 1M tokens")
    json.dumps(d)


def test_lookup_cache_is_bounded():
    b = small_book("acme")
    assert b.lookup("acme-x") is b.lookup("acme-x")
    for i in range(pricing._CACHE_SIZE + 50):
        b.lookup(f"unknown-{i}")
    assert len(b._cache) <= pricing._CACHE_SIZE
    assert matched(b, "acme-x") == "acme"


def test_default_pricebook_reads_env_once(tmp_path, monkeypatch, fresh_default):
    path = write_json(tmp_path, {"env-model": {"input": 1, "output": 1}})
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    first = default_pricebook()
    assert first.lookup("env-model").origin == str(path)
    monkeypatch.delenv(A.ENV_PRICING)
    assert default_pricebook() is first  # cached
    set_default_pricebook(None)  # reset: rebuilt lazily from env
    assert default_pricebook().lookup("env-model") is None


def test_set_default_pricebook(fresh_default):
    mine = small_book("mine")
    set_default_pricebook(mine)
    assert default_pricebook() is mine


def test_default_pricebook_is_built_once_across_threads(monkeypatch, fresh_default):
    monkeypatch.delenv(A.ENV_PRICING, raising=False)
    seen: list[PriceBook] = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        seen.append(default_pricebook())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(b is seen[0] for b in seen)


def test_default_pricebook_raises_for_a_bad_file_and_recovers(tmp_path, monkeypatch, fresh_default):
    path = write_json(tmp_path, "{not json")
    monkeypatch.setenv(A.ENV_PRICING, str(path))
    with pytest.raises(PricingError, match=re.escape(str(path))):
        default_pricebook()
    path.write_text('{"fixed": {"input": 1, "output": 1}}', encoding="utf-8")
    assert default_pricebook().lookup("fixed") is not None


def test_pricing_imports_only_stdlib_and_semconv():
    tree = ast.parse(Path(pricing.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    allowed_stdlib = {
        "__future__", "json", "math", "os", "re", "threading", "collections.abc",
        "dataclasses", "datetime", "functools", "importlib", "typing",
    }  # fmt: skip
    for name in imported:
        assert name in allowed_stdlib or name.startswith("agentel.semconv"), name
