"""Our catalog's Gemini, Bedrock and Mistral prices against the price file the installed
``litellm`` package ships (``model_prices_and_context_window_backup.json``), per 1M tokens:
input, output and cached input.

Every litellm model id of those providers that agentel prices is compared with the price
agentel gives it (so a wrong family match shows too). A disagreement must be explained below,
by the ids and fields it covers; an explanation that no longer explains anything fails too.
The JSON file is read directly: ``import litellm`` would try to fetch the map online.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentel.semconv.pricing import PriceBook

PROVIDERS = {
    "gemini",
    "vertex_ai-language-models",
    "vertex_ai-embedding-models",
    "mistral",
    "bedrock",
    "bedrock_converse",
}
FAMILIES = {"gcp.gemini", "mistral_ai", "aws.bedrock"}
FIELDS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
}

# (litellm ids, fields that may differ, why): each one checked 2026-11-30 against litellm 1.110.2
EXPLAINED: list[tuple[str, set[str], str]] = [
    (
        r"^(bedrock/[a-z0-9-]+/|us-gov\.)",
        {"input", "output", "cache_read"},
        "per-region on-demand rates (a region in the id, GovCloud +20%): the catalog prices "
        "US East / global, and docs/integrations.md says regional rates are not modelled",
    ),
    (
        r"^(us|eu|apac|jp|au)\.(anthropic\.claude-(sonnet|haiku|opus)-4-[5-9]|openai\.)",
        {"input", "output", "cache_read"},
        "geographic cross-region profiles of Claude 4.5+ (and OpenAI models) bill 10% over "
        "global.: not modelled (documented)",
    ),
    (
        r"^(eu|apac)\.(amazon\.nova|meta\.llama3-2)",
        {"input", "output", "cache_read"},
        "EU / Asia Pacific profiles bill those regions' rates: not modelled (documented)",
    ),
    (
        r"^mistral/",
        {"cache_read"},
        "litellm lists Mistral cached input at 10% of input; mistral.ai's pricing page as the "
        "catalog read it lists no cache price, so cached tokens cost the input price (an "
        "over-estimate, never an under-estimate)",
    ),
    (
        r"^mistral/(mistral-small-(latest|2603)|mistral-medium(-latest|-2604)?|"
        r"ministral-[38]b-(latest|2512)|magistral-(medium|small)-latest)$",
        {"input", "output", "cache_read"},
        "litellm prices these aliases and 2512+ snapshots as the newer generation "
        "(Mistral Small 4, Medium 3.5, Ministral 3, Magistral 1.2+); the catalog's family keys "
        "carry the generation dated in their as_of: re-check on mistral.ai/pricing",
    ),
    (
        r"^mistral/open-mistral-nemo$",
        {"input", "output", "cache_read"},
        "litellm says $0.30; the catalog's $0.15 is mistral.ai's page as of its as_of date",
    ),
    (
        r"^anthropic\.claude-3-7-sonnet-20240620-v1:0$",
        {"input", "output", "cache_read"},
        "no such Bedrock id (20240620 is Claude 3.5 Sonnet's date); litellm gives it GovCloud "
        "rates, while its anthropic.claude-3-7-sonnet-20250219-v1:0 agrees with the catalog",
    ),
]


def _litellm_prices() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("litellm is not installed")
    path = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((path / "model_prices_and_context_window_backup.json").read_text())


def disagreements() -> tuple[dict[str, set[str]], set[str]]:
    """({litellm id: the fields agentel prices differently}, the catalog keys compared)."""
    book = PriceBook()
    found: dict[str, set[str]] = {}
    compared: set[str] = set()
    for model, entry in _litellm_prices().items():
        if entry.get("litellm_provider") not in PROVIDERS:
            continue
        if not isinstance(entry.get("input_cost_per_token"), (int, float)):
            continue
        price = book.lookup(model)
        on_bedrock = entry["litellm_provider"].startswith("bedrock")
        if price is None or (price.provider not in FAMILIES and not on_bedrock):
            continue  # unpriced by us (conservative), or another family's entry
        compared.add(price.model)
        fields = set()
        for field, key in FIELDS.items():
            theirs = entry.get(key)
            if theirs is None:
                continue
            ours = getattr(price, field)
            if ours is None or ours != pytest.approx(theirs * 1e6, rel=1e-9, abs=1e-12):
                fields.add(field)
        if fields:
            found[model] = fields
    return found, compared


def test_catalog_agrees_with_litellm_or_says_why() -> None:
    found, _ = disagreements()
    unexplained = {
        model: fields
        for model, fields in found.items()
        if not any(re.search(p, model) and fields <= allowed for p, allowed, _ in EXPLAINED)
    }
    assert not unexplained, f"prices that disagree with litellm's file: {unexplained}"
    stale = [p for p, _, _ in EXPLAINED if not any(re.search(p, model) for model in found)]
    assert not stale, f"explanations that explain nothing any more: {stale}"


def test_every_new_family_entry_is_compared_or_absent_from_litellm() -> None:
    _, compared = disagreements()
    catalog = {price.model for price in PriceBook().models() if price.provider in FAMILIES}
    # litellm 1.110.2 no longer lists these (retired or renamed previews)
    absent = {"gemini-3-pro", "gemini-2.0-flash", "gemini-2.0-flash-lite", "mistral-large-2411"}
    assert catalog - compared == absent
