"""Model prices and the cost of one LLM call.

The catalog (``prices.json`` next to this module) ships with the package, is dated, and is never
fetched at run time. Users override or extend it with a JSON file named by ``AGENTEL_PRICING``
or with ``configure(prices=...)``; an override wins over the catalog for its own key and for
every name that key matches.

Prices are USD per 1M tokens, used to 6 decimal places (a whole number of picodollars per
token, so costs are computed exactly in integers). Token counts follow OpenTelemetry: input
tokens *include* the cache-read and cache-write tokens, output tokens *include* the reasoning
tokens, so nothing is billed twice.

Name matching (first hit wins; overrides are searched first, then the catalog):

1. exact name, case-insensitive (also ``"{provider}/{name}"`` when a provider is given);
2. provider prefix stripped: ``openai/gpt-4o``, ``models/gemini-2.5-pro``, ``vertex_ai/...``,
   any ``a/b/c`` path (the last segment is kept), Bedrock ``anthropic.claude-...`` and
   ``us.anthropic.claude-...``; Claude names written with dots (``claude-sonnet-4.5``) are
   read as ``claude-sonnet-4-5``;
3. snapshot suffixes stripped one at a time, retrying the exact match after each:
   ``@20241022``, ``-v1:0``, ``-latest``, ``-2024-08-06``, ``-20241022``, ``-preview-05-06``,
   ``-preview``, ``-0613`` / ``-2411``, ``-001``, a trailing ``-0`` minor version;
4. the longest catalog key that is a prefix of the name at a ``-`` boundary, **guarded**: the
   match is refused (and no shorter key is tried) when the remainder after the key names
   another model, i.e. when

   * any remainder token is in :data:`FAMILY_WORDS` (``gpt-4o`` never prices
     ``gpt-4o-mini-x``, ``o3`` never prices ``o3-pro``, ``gemini-2.5-flash`` never prices
     ``gemini-2.5-flash-lite``, ``grok-4`` never prices ``grok-4-fast``), or
   * the first remainder token is a version or size (``claude-opus-4`` never prices
     ``claude-opus-4-6``; ``v2``, ``3.5``, ``8b``, ``16k`` are refused; 3+ digit snapshot
     numbers such as ``0709`` or ``001`` are allowed).

A name that matches nothing is *unpriced*: :meth:`PriceBook.cost` returns ``None`` and the
caller counts the call as unpriced (never a silent zero). A dated snapshot whose price differs
from its family's current price needs its own key (the catalog has ``gpt-4o-2024-05-13`` and
``mistral-large-2411`` for that reason).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from typing import Any

from agentel.semconv.attributes import (
    AGENTEL_COST_CACHE_READ,
    AGENTEL_COST_CACHE_WRITE,
    AGENTEL_COST_INPUT,
    AGENTEL_COST_OUTPUT,
    AGENTEL_COST_PRICE_VERSION,
    AGENTEL_COST_REASONING,
    AGENTEL_COST_SOURCE,
    ENV_PRICING,
    GEN_AI_USAGE_COST,
)

__all__ = [
    "CURRENCY",
    "FAMILY_WORDS",
    "Cost",
    "ModelPrice",
    "PriceBook",
    "PricingError",
    "cost_attributes",
    "default_pricebook",
    "load_overrides",
    "model_family",
    "set_default_pricebook",
]

CURRENCY = "USD"
UNIT = "per 1M tokens"
CONFIGURE_ORIGIN = "configure(prices=...)"

#: Words that, right after a known model name, make it a different model (tier, size,
#: modality or variant with its own price). Used by the prefix rule's guard.
FAMILY_WORDS: frozenset[str] = frozenset(
    {
        # size / tier
        "nano", "micro", "mini", "tiny", "small", "medium", "large", "lite", "flash",
        "pro", "max", "plus", "ultra", "turbo", "fast",
        # Claude families
        "haiku", "sonnet", "opus",
        # modality / purpose variants priced separately
        "realtime", "audio", "live", "search", "tts", "transcribe", "image", "vision",
        "instruct", "embed", "embedding", "moderation", "omni", "computer",
        "code", "coder", "codex", "deep", "research", "reasoner", "thinking",
        # architectures sold under a family's name: codestral-mamba is not codestral
        "mamba",
    }
)  # fmt: skip

_ENTRY_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning")
_TEXT_FIELDS = ("provider", "as_of", "note")
_ALLOWED_FIELDS = frozenset(_ENTRY_FIELDS + _TEXT_FIELDS)
_DOC_KEYS = frozenset({"version", "currency", "unit", "comment", "models", "$schema"})
_CACHE_SIZE = 4096

_BEDROCK_PREFIX = re.compile(
    r"^(?:(?:us|eu|apac|ap|global|us-gov|ca|jp|au)\.)?"
    r"(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|google|xai|qwen|writer)\."
)
_CLAUDE_DOT = re.compile(r"(?<=\d)\.(?=\d)")
# (pattern, names a snapshot of the same model): the second kind is also how model filters
# find a dated name's family; ``-v2`` and ``-preview`` alone may name another model
# (``deepseek-v2``, ``o1-preview``), so they only serve price lookups, tried after the name.
_SUFFIXES = (
    (r"@[^@]*$", True),  # Vertex: claude-3-5-sonnet-v2@20241022, gemini-...@001
    (r"-v\d+:\d+$", True),  # Bedrock: -v1:0
    (r"-v\d+$", False),  # -v2
    (r"-latest$", True),
    (r"-\d{4}-\d{2}-\d{2}$", True),  # OpenAI: -2024-08-06
    (r"-\d{8}$", True),  # Anthropic: -20241022
    (r"-preview-\d{2}-\d{2,4}$", True),  # Gemini: -preview-05-06, -preview-09-2025
    (r"-preview$", False),
    (r"-\d{4}$", True),  # -0613, -2411 (Mistral), -0709 (xAI)
    (r"-\d{3}$", True),  # Google: -001
    (r"(?<=-\d)-0$", True),  # claude-sonnet-4-0 -> claude-sonnet-4
)
_SNAPSHOT_SUFFIXES = tuple(re.compile(p) for p, _ in _SUFFIXES)
_DATED_SUFFIXES = tuple(re.compile(p) for p, dated in _SUFFIXES if dated)
_TOKEN_SPLIT = re.compile(r"[-_.:@/ ]+")
_SNAPSHOT_NUMBER = re.compile(r"^\d{3,}$")


class PricingError(ValueError):
    """A bad price file or entry; the message names the file (or origin), model and field."""


@dataclass(frozen=True)
class ModelPrice:
    """Prices of one model in USD per 1M tokens, and where they came from."""

    model: str
    provider: str | None
    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    source: str = "catalog"  # "catalog" | "override"
    origin: str = ""  # catalog version, override file path, or "configure(prices=...)"
    as_of: str | None = None
    note: str | None = None
    #: (input, output, cache_read, cache_write, reasoning) in whole picodollars per token
    rates: tuple[int, int, int, int, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def pico(per_million: float | None, fallback: float) -> int:
            return round((fallback if per_million is None else per_million) * 1e6)

        rates = (
            pico(self.input, 0.0),
            pico(self.output, 0.0),
            pico(self.cache_read, self.input),
            pico(self.cache_write, self.input),
            pico(self.reasoning, self.output),
        )
        object.__setattr__(self, "rates", rates)


@dataclass(frozen=True)
class Cost:
    """The cost of one call in ``currency``; ``model`` is the matched price key."""

    total: float
    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: float
    currency: str
    source: str
    price_version: str
    model: str


def _usd(
    rates: tuple[int, int, int, int, int],
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None,
    cache_write_tokens: int | None,
    reasoning_tokens: int | None,
) -> tuple[float, float, float, float, float, float]:
    """(total, input, output, cache_read, cache_write, reasoning) cost in USD.

    Computed in integer picodollars: every part is exact, the total is exactly their sum,
    and one division by 1e12 each gives the float nearest the true amount (what
    ``round(x, 12)`` of the float product gave, without its float noise or its cost). None
    and negative counts read as 0.
    """
    inp = input_tokens if input_tokens and input_tokens > 0 else 0
    out = output_tokens if output_tokens and output_tokens > 0 else 0
    read = cache_read_tokens if cache_read_tokens and cache_read_tokens > 0 else 0
    write = cache_write_tokens if cache_write_tokens and cache_write_tokens > 0 else 0
    reasoning = reasoning_tokens if reasoning_tokens and reasoning_tokens > 0 else 0
    r_in, r_out, r_read, r_write, r_reasoning = rates
    input_cost = max(0, inp - read - write) * r_in
    output_cost = max(0, out - reasoning) * r_out
    read_cost = read * r_read
    write_cost = write * r_write
    reasoning_cost = reasoning * r_reasoning
    total = input_cost + output_cost + read_cost + write_cost + reasoning_cost
    return (
        total / 1e12,
        input_cost / 1e12,
        output_cost / 1e12,
        read_cost / 1e12,
        write_cost / 1e12,
        reasoning_cost / 1e12,
    )


def _new_cost(values: dict[str, Any]) -> Cost:
    """``Cost(**values)`` without the frozen dataclass's per-field ``object.__setattr__``
    (a third of pricing one call); ``values`` must name every field."""
    cost = object.__new__(Cost)
    cost.__dict__.update(values)
    return cost


# --- parsing and validation ---------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.strip().lower()


def _number(where: str, key: str, field: str, value: Any, *, required: bool) -> float | None:
    if value is None:
        if required:
            raise PricingError(f"{where}: model {key!r}: missing required field {field!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PricingError(
            f"{where}: model {key!r}: field {field!r} must be a number, got {value!r}"
        )
    if not math.isfinite(value) or value < 0:
        raise PricingError(
            f"{where}: model {key!r}: field {field!r} must be a finite number >= 0, got {value!r}"
        )
    return float(value)


def _entry(where: str, key: Any, raw: Any, *, source: str, origin: str) -> ModelPrice:
    if not isinstance(key, str) or not key.strip():
        raise PricingError(f"{where}: model names must be non-empty strings, got {key!r}")
    model = _norm(key)
    if isinstance(raw, ModelPrice):
        return replace(raw, model=model, source=source, origin=raw.origin or origin)
    if not isinstance(raw, Mapping):
        raise PricingError(
            f"{where}: model {key!r}: entry must be an object with 'input' and 'output', "
            f"got {raw!r}"
        )
    for field in raw:
        if field not in _ALLOWED_FIELDS:
            raise PricingError(
                f"{where}: model {key!r}: unknown field {field!r} "
                f"(allowed: {', '.join(sorted(_ALLOWED_FIELDS))})"
            )
    for field in _TEXT_FIELDS:
        value = raw.get(field)
        if value is not None and not isinstance(value, str):
            raise PricingError(
                f"{where}: model {key!r}: field {field!r} must be a string, got {value!r}"
            )
    prices = {
        f: _number(where, key, f, raw.get(f), required=f in ("input", "output"))
        for f in _ENTRY_FIELDS
    }
    return ModelPrice(
        model=model,
        provider=raw.get("provider"),
        input=prices["input"],  # type: ignore[arg-type]
        output=prices["output"],  # type: ignore[arg-type]
        cache_read=prices["cache_read"],
        cache_write=prices["cache_write"],
        reasoning=prices["reasoning"],
        source=source,
        origin=origin,
        as_of=raw.get("as_of"),
        note=raw.get("note"),
    )


def _unwrap(where: str, doc: Any) -> Mapping[str, Any]:
    """``{"models": {...}, "currency": "USD", ...}`` or a bare ``{name: entry}`` mapping."""
    if not isinstance(doc, Mapping):
        raise PricingError(f"{where}: expected a JSON object of models, got {type(doc).__name__}")
    models = doc.get("models")
    if not (isinstance(models, Mapping) and "input" not in models and "output" not in models):
        return doc
    for key in doc:
        if key not in _DOC_KEYS:
            raise PricingError(
                f"{where}: unexpected top-level key {key!r} next to 'models' "
                f"(allowed: {', '.join(sorted(_DOC_KEYS))})"
            )
    currency = doc.get("currency", CURRENCY)
    if currency != CURRENCY:
        raise PricingError(f"{where}: field 'currency' must be {CURRENCY!r}, got {currency!r}")
    return models


def _entries(
    where: str, models: Mapping[str, Any], *, source: str, origin: str
) -> dict[str, ModelPrice]:
    out: dict[str, ModelPrice] = {}
    for key, raw in models.items():
        price = _entry(where, key, raw, source=source, origin=origin)
        out[price.model] = price
    return out


def _parse_catalog(doc: Mapping[str, Any], where: str) -> tuple[str, dict[str, ModelPrice]]:
    if not isinstance(doc, Mapping):
        raise PricingError(f"{where}: expected a JSON object, got {type(doc).__name__}")
    version = doc.get("version", "custom") if "models" in doc else "custom"
    if not isinstance(version, str) or not version:
        raise PricingError(f"{where}: field 'version' must be a non-empty string")
    models = _unwrap(where, doc)
    return version, _entries(where, models, source="catalog", origin=version)


@lru_cache(maxsize=1)
def _shipped_catalog() -> tuple[str, dict[str, ModelPrice]]:
    where = "shipped price catalog prices.json"
    try:
        text = resources.files(__package__).joinpath("prices.json").read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise PricingError(f"{where}: cannot load: {exc}") from exc
    return _parse_catalog(doc, where)


def load_overrides(path: str | os.PathLike[str]) -> dict[str, ModelPrice]:
    """Read and validate a price file (``{name: entry}`` or ``{"models": {...}}``).

    Raises :class:`PricingError` naming the file, the model and the bad field.
    """
    origin = os.path.abspath(os.fspath(path))
    where = f"pricing file {origin}"
    try:
        with open(origin, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise PricingError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PricingError(f"{where}: not UTF-8 text: {exc}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PricingError(
            f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return _entries(where, _unwrap(where, doc), source="override", origin=origin)


# --- matching -----------------------------------------------------------------------------------


def _strip_provider(name: str) -> str:
    if "/" in name:
        name = name.rsplit("/", 1)[1]
    name = _BEDROCK_PREFIX.sub("", name, count=1)
    if name.startswith("claude"):
        name = _CLAUDE_DOT.sub("-", name)
    return name


def _strip_one_suffix(
    name: str, patterns: tuple[re.Pattern[str], ...] = _SNAPSHOT_SUFFIXES
) -> str | None:
    for pattern in patterns:
        stripped = pattern.sub("", name, count=1)
        if stripped != name and stripped:
            return stripped
    return None


@lru_cache(maxsize=_CACHE_SIZE)
def model_family(name: str) -> str:
    """The model a (dated) model name is a snapshot of, by the catalog's matching rules:
    lower case, provider prefix stripped (rule 2), snapshot suffixes stripped (rule 3).

    ``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``, ``openai/gpt-4o`` -> ``gpt-4o``,
    ``anthropic.claude-3-5-haiku-20241022-v1:0`` -> ``claude-3-5-haiku``. Nothing else is cut,
    so a family never reaches another model: ``gpt-4o-mini`` stays itself (never ``gpt-4o``),
    and so do ``o1-preview`` and ``deepseek-v3``. Model filters match a name by its family.
    """
    current = _strip_provider(_norm(name))
    while (stripped := _strip_one_suffix(current, _DATED_SUFFIXES)) is not None:
        current = stripped
    return current


def _remainder_ok(remainder: str) -> bool:
    tokens = [t for t in _TOKEN_SPLIT.split(remainder) if t]
    if not tokens:
        return True
    first = tokens[0]
    if first[0].isdigit() and not _SNAPSHOT_NUMBER.match(first):
        return False  # a version or size: claude-opus-4 + "6", "3.5", "8b", "16k"
    if first[0] == "v" and first[1:2].isdigit():
        return False  # v2, v3.1
    return not any(t in FAMILY_WORDS for t in tokens)


def _match(
    table: Mapping[str, ModelPrice], name: str, provider: str | None
) -> tuple[ModelPrice, str] | None:
    if not table:
        return None

    def hit(candidate: str) -> ModelPrice | None:
        if provider:
            found = table.get(f"{provider}/{candidate}")
            if found is not None:
                return found
        return table.get(candidate)

    found = hit(name)
    if found is not None:
        return found, "exact"
    current = _strip_provider(name)
    if current != name:
        found = hit(current)
        if found is not None:
            return found, "provider-prefix"
    while (stripped := _strip_one_suffix(current)) is not None:
        current = stripped
        found = hit(current)
        if found is not None:
            return found, "snapshot"
    cut = current.rfind("-")
    while cut > 0:
        found = table.get(current[:cut])
        if found is not None:
            # the longest key decides: if the guard refuses it, a shorter key (an even wider
            # family) must not price the name either
            return (found, "prefix") if _remainder_ok(current[cut + 1 :]) else None
        cut = current.rfind("-", 0, cut)
    return None


# --- the price book -----------------------------------------------------------------------------


class PriceBook:
    """A catalog plus overrides; answers "what does this call cost".

    ``catalog`` is a ``prices.json``-shaped mapping (``None``: the shipped catalog); ``overrides``
    maps model names to entries (``{"input": 1.0, "output": 2.0, ...}`` or :class:`ModelPrice`).
    Lookups are cached per ``(model, provider)`` in a bounded table; the book is immutable and
    safe to share between threads.
    """

    def __init__(
        self,
        catalog: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Mapping[str, Any] | ModelPrice] | None = None,
        *,
        override_origin: str = CONFIGURE_ORIGIN,
    ) -> None:
        if catalog is None:
            self._version, self._catalog = _shipped_catalog()
        else:
            self._version, self._catalog = _parse_catalog(catalog, "price catalog")
        self._overrides: dict[str, ModelPrice] = {}
        if overrides:
            where = override_origin
            models = _unwrap(where, overrides)
            self._overrides = _entries(where, models, source="override", origin=override_origin)
        self._cache: dict[tuple[str, str | None], tuple[ModelPrice, str] | None] = {}
        # (model, provider) -> (rates, source, price version): one dict read per priced call
        self._priced: dict[tuple[str, str | None], tuple[Any, str, str] | None] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_env(
        cls, overrides: Mapping[str, Mapping[str, Any] | ModelPrice] | None = None
    ) -> PriceBook:
        """The shipped catalog, then the file named by ``AGENTEL_PRICING``, then ``overrides``
        (later wins). Raises :class:`PricingError` for a bad file or entry."""
        merged: dict[str, ModelPrice] = {}
        path = os.environ.get(ENV_PRICING, "").strip()
        if path:
            merged.update(load_overrides(path))
        if overrides:
            models = _unwrap(CONFIGURE_ORIGIN, overrides)
            merged.update(
                _entries(CONFIGURE_ORIGIN, models, source="override", origin=CONFIGURE_ORIGIN)
            )
        return cls(overrides=merged)

    @property
    def version(self) -> str:
        """The catalog version (a date string for the shipped catalog)."""
        return self._version

    def __repr__(self) -> str:
        return (
            f"PriceBook(version={self._version!r}, models={len(self._catalog)}, "
            f"overrides={len(self._overrides)})"
        )

    def _resolve(self, model: str | None, provider: str | None) -> tuple[ModelPrice, str] | None:
        if not isinstance(model, str):
            return None
        key = (model, provider)
        try:
            return self._cache[key]
        except KeyError:
            pass
        name = _norm(model)
        prov = _norm(provider) if isinstance(provider, str) and provider.strip() else None
        result = None
        if name:
            result = _match(self._overrides, name, prov) or _match(self._catalog, name, prov)
        with self._cache_lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))  # oldest first
            self._cache[key] = result
        return result

    def lookup(self, model: str, provider: str | None = None) -> ModelPrice | None:
        """The price for ``model`` (see the module docstring for the matching rules), or None.

        ``provider`` only selects provider-qualified keys such as ``"azure.ai.openai/gpt-4o"``;
        it never stops a match (resellers charge list prices under other provider names)."""
        found = self._resolve(model, provider)
        return found[0] if found else None

    def cost(
        self,
        model: str | None,
        provider: str | None = None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Cost | None:
        """The cost of one call, or None when the model is unknown (an unpriced call).

        OpenTelemetry counting: ``input_tokens`` includes cache reads and writes,
        ``output_tokens`` includes reasoning tokens. None token counts read as 0."""
        found = self._resolve(model, provider) if model else None
        if found is None:
            return None
        price = found[0]
        total, inp, out, read, write, reasoning = _usd(
            price.rates, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
            reasoning_tokens,
        )  # fmt: skip
        return _new_cost(
            {
                "total": total,
                "input": inp,
                "output": out,
                "cache_read": read,
                "cache_write": write,
                "reasoning": reasoning,
                "currency": CURRENCY,
                "source": price.source,
                "price_version": self._price_version(price),
                "model": price.model,
            }
        )

    def cost_attributes(
        self,
        model: str | None,
        provider: str | None = None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> dict[str, float | str] | None:
        """``cost_attributes(self.cost(...))`` without building the :class:`Cost` (the
        instrumentation's once-per-call path); None when the model is unknown."""
        try:
            priced = self._priced[(model, provider)]  # type: ignore[index]
        except KeyError:
            priced = self._price_of(model, provider)
        if priced is None:
            return None
        rates, source, version = priced
        usd = _usd(
            rates, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
            reasoning_tokens,
        )  # fmt: skip
        return _attributes(*usd, source, version)

    def _price_of(self, model: str | None, provider: str | None) -> tuple[Any, str, str] | None:
        """What pricing ``model`` needs, resolved once and kept (bounded like ``_resolve``)."""
        found = self._resolve(model, provider) if model else None
        priced = None
        if found is not None:
            price = found[0]
            priced = (price.rates, price.source, self._price_version(price))
        if isinstance(model, str):
            with self._cache_lock:
                if len(self._priced) >= _CACHE_SIZE:
                    self._priced.pop(next(iter(self._priced)))  # oldest first
                self._priced[(model, provider)] = priced
        return priced

    def _price_version(self, price: ModelPrice) -> str:
        return f"override:{price.origin}" if price.source == "override" else self._version

    def models(self) -> list[ModelPrice]:
        """Every effective entry (overrides replace catalog entries), sorted by provider, model."""
        merged = {**self._catalog, **self._overrides}
        return sorted(merged.values(), key=lambda p: (p.provider or "", p.model))

    def describe(self, model: str, provider: str | None = None) -> dict[str, Any] | None:
        """One model's prices and where they came from (for ``agentel prices MODEL``)."""
        found = self._resolve(model, provider)
        if found is None:
            return None
        price, rule = found
        return {
            "query": model,
            "model": price.model,
            "match": rule,
            "provider": price.provider,
            "currency": CURRENCY,
            "unit": UNIT,
            "input": price.input,
            "output": price.output,
            "cache_read": price.cache_read,
            "cache_write": price.cache_write,
            "reasoning": price.reasoning,
            "source": price.source,
            "origin": price.origin,
            "origin_date": _origin_date(price),
            "as_of": price.as_of,
            "note": price.note,
            "price_version": self._price_version(price),
        }


def _origin_date(price: ModelPrice) -> str | None:
    """The date of the price's source: the catalog version, or an override file's mtime (UTC)."""
    if price.source == "catalog":
        return price.origin or None
    try:
        mtime = os.path.getmtime(price.origin)
    except (OSError, ValueError):  # configure(prices=...) has no file
        return None
    return datetime.fromtimestamp(mtime, tz=timezone.utc).date().isoformat()


def cost_attributes(cost: Cost) -> dict[str, float | str]:
    """Span attributes for a cost: ``gen_ai.usage.cost`` plus agentel's breakdown.

    Parts that cost nothing (no cache, no reasoning: most calls) are left out, and so is the
    currency (always USD): every attribute costs the OTel SDK 0.2-1 µs per span to set.
    """
    return _attributes(
        cost.total,
        cost.input,
        cost.output,
        cost.cache_read,
        cost.cache_write,
        cost.reasoning,
        cost.source,
        cost.price_version,
    )


def _attributes(
    total: float,
    inp: float,
    out: float,
    read: float,
    write: float,
    reasoning: float,
    source: str,
    price_version: str,
) -> dict[str, float | str]:
    attrs: dict[str, float | str] = {GEN_AI_USAGE_COST: total}
    if inp:
        attrs[AGENTEL_COST_INPUT] = inp
    if out:
        attrs[AGENTEL_COST_OUTPUT] = out
    if read:
        attrs[AGENTEL_COST_CACHE_READ] = read
    if write:
        attrs[AGENTEL_COST_CACHE_WRITE] = write
    if reasoning:
        attrs[AGENTEL_COST_REASONING] = reasoning
    attrs[AGENTEL_COST_SOURCE] = source
    attrs[AGENTEL_COST_PRICE_VERSION] = price_version
    return attrs


# --- the process-wide book ----------------------------------------------------------------------

_default_lock = threading.Lock()
_default_book: PriceBook | None = None


def default_pricebook() -> PriceBook:
    """The process-wide book, built on first use from the shipped catalog and ``AGENTEL_PRICING``.

    Raises :class:`PricingError` when the ``AGENTEL_PRICING`` file is bad (nothing is cached
    then, so a fixed file is picked up on the next call)."""
    global _default_book
    book = _default_book
    if book is None:
        with _default_lock:
            if _default_book is None:
                _default_book = PriceBook.from_env()
            book = _default_book
    return book


def set_default_pricebook(book: PriceBook | None) -> None:
    """Install ``book`` as the process-wide book; ``None`` rebuilds it from env on next use."""
    global _default_book
    with _default_lock:
        _default_book = book
