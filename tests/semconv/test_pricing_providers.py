"""Catalog entries for the Gemini, Bedrock and Mistral model ids the provider instrumentors
report: each family priced by its own key, including Bedrock's regional prefixes, and near
misses left unpriced rather than priced as a neighbour."""

from __future__ import annotations

import pytest

from agentel.semconv.pricing import PriceBook


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def matched(book: PriceBook, name: str) -> str | None:
    price = book.lookup(name)
    return price.model if price else None


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # Bedrock: model ids, with and without cross-region inference prefixes
        ("amazon.nova-pro-v1:0", "nova-pro"),
        ("us.amazon.nova-pro-v1:0", "nova-pro"),
        ("eu.amazon.nova-lite-v1:0", "nova-lite"),
        ("apac.amazon.nova-micro-v1:0", "nova-micro"),
        ("us.amazon.nova-premier-v1:0", "nova-premier"),
        ("meta.llama3-1-8b-instruct-v1:0", "llama3-1-8b-instruct"),
        ("us.meta.llama3-1-70b-instruct-v1:0", "llama3-1-70b-instruct"),
        ("us.meta.llama3-2-90b-instruct-v1:0", "llama3-2-90b-instruct"),
        ("us.meta.llama3-3-70b-instruct-v1:0", "llama3-3-70b-instruct"),
        ("us.meta.llama4-maverick-17b-instruct-v1:0", "llama4-maverick-17b-instruct"),
        ("meta.llama4-scout-17b-instruct-v1:0", "llama4-scout-17b-instruct"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral-7b-instruct"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mixtral-8x7b-instruct"),
        ("mistral.mistral-small-2402-v1:0", "mistral-small-2402"),
        ("mistral.mistral-large-2402-v1:0", "mistral-large-2402"),
        ("mistral.mistral-large-2407-v1:0", "mistral-large-2407"),
        ("us.mistral.pixtral-large-2502-v1:0", "pixtral-large"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku"),
        ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        # Mistral's own API
        ("mistral-small-latest", "mistral-small"),
        ("ministral-8b-latest", "ministral-8b"),
        ("ministral-3b-2410", "ministral-3b"),
        ("open-mistral-nemo-2407", "open-mistral-nemo"),
        ("pixtral-large-latest", "pixtral-large"),
        ("mistral-embed", "mistral-embed"),
        # Gemini
        ("gemini-embedding-001", "gemini-embedding-001"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
    ],
)
def test_provider_ids_are_priced_by_their_family(book, name, key):
    assert matched(book, name) == key


def test_bedrock_prefixes_price_like_the_bare_id(book):
    bare = book.cost("amazon.nova-pro-v1:0", input_tokens=1000, output_tokens=100)
    for prefix in ("us.", "eu.", "apac.", "global."):
        assert book.cost(prefix + "amazon.nova-pro-v1:0", input_tokens=1000, output_tokens=100) == (
            bare
        )
    assert bare is not None and bare.total == pytest.approx((1000 * 0.8 + 100 * 3.2) / 1e6)


@pytest.mark.parametrize(
    "name",
    [
        "amazon.nova-2-lite-v1:0",  # another generation: its own price
        "amazon.nova-pro-2-v1:0",
        "amazon.nova-micro-lite-v1:0",
        "amazon.nova-sonic-v1:0",
        "amazon.nova-canvas-v1:0",
        "amazon.titan-text-express-v1",
        "meta.llama3-1-70b-instruct-vision-v1:0",
        "meta.llama3-8b-instruct-v1:0",  # Llama 3, not 3.1
        "meta.llama3-2-11b-vision-instruct-v1:0",
        "mistral.mistral-large-3-v1:0",
        "ministral-14b-latest",
        "mistral-embed-code",
        "gemini-embedding-2-preview",
        "text-embedding-004",
        # names from litellm's price file whose prices differ from their neighbour's
        "gemini-2.5-pro-preview-tts",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash-native-audio-latest",
        "gemini-2.5-computer-use-preview-10-2025",
        "gemini-3-pro-image-preview",
        "gemini-3-flash-lite",
        "gemini-3.1-flash-lite",
        "gemini-3.5-flash",
        "codestral-mamba-latest",
        "codestral-embed",
        "pixtral-12b-2409",
        "us.amazon.nova-2-pro-v1:0",
    ],
)
def test_near_misses_stay_unpriced(book, name):
    assert book.lookup(name) is None, f"{name} priced as {matched(book, name)}"


def test_small_2402_is_not_priced_as_the_current_small(book):
    assert book.lookup("mistral-small-2402").input == 1.0
    assert book.lookup("mistral-small-2503").input == book.lookup("mistral-small").input
