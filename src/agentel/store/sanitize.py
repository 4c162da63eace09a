"""Make any span storable: cap huge values, repair broken text, drop impossible numbers.

Spans reach the store from our own SDK path and from foreign data (OTLP, imports), so a
record may carry a 10 MB tool output, lone UTF-16 surrogates (invalid UTF-8 decoded with
``surrogateescape``), NaN token counts or integers beyond 64 bits. SQLite and MongoDB would
refuse such a record, and with it its whole batch. ``build_span_record`` passes every span
through here, so each is stored, the same way on every backend:

- a string attribute value (or list element) longer than ``AGENTEL_MAX_ATTRIBUTE_CHARS``
  (default 262,144 characters) keeps its head plus a marker naming its original length, and
  the span (or event) lists the key in ``agentel.truncated.attributes`` with the length in
  ``agentel.truncated.sizes``;
- lone surrogates in names, keys and values become U+FFFD, bytes are decoded, NaN and
  infinities become strings and other non-JSON values their ``repr`` (as SQLite and MongoDB
  would store them), so every backend holds the same value;
- a normalized count outside 64 bits, or a non-finite cost or timing, becomes unknown (None).
"""

from __future__ import annotations

import functools
import os
import re
from math import isfinite
from typing import Any

from agentel.semconv.attributes import (
    AGENTEL_TRUNCATED_ATTRIBUTES,
    AGENTEL_TRUNCATED_SIZES,
    ENV_MAX_ATTRIBUTE_CHARS,
)

DEFAULT_MAX_ATTRIBUTE_CHARS = 262_144
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_TEXT_FIELDS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "status_message",
    "run_id",
    "scope",
    "service_name",
    "operation",
    "conversation_id",
    "user_id",
    "error_type",
    "agent_name",
    "model",
    "provider",
    "tool_name",
    "tool_call_id",
)
_INT_FIELDS = (
    "start_ns",
    "end_ns",
    "iteration",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_FLOAT_FIELDS = ("cost_usd", "ttft_ms", "output_tps")


@functools.lru_cache(maxsize=1)
def max_attribute_chars() -> int:
    """``AGENTEL_MAX_ATTRIBUTE_CHARS`` when it is a positive integer, else the default."""
    raw = os.environ.get(ENV_MAX_ATTRIBUTE_CHARS, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_ATTRIBUTE_CHARS
    return value if value > 0 else DEFAULT_MAX_ATTRIBUTE_CHARS


def truncation_marker(length: int) -> str:
    """What replaces the tail of a value cut at the cap."""
    return f"…[truncated by agentel: {length} chars]"


def repair_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (pairs are joined)."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _needs_work(value: Any, cap: int) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) > cap or not value.isascii()
    if kind is float:
        return not isfinite(value)
    if kind is list or kind is tuple:
        return any(_needs_work(item, cap) for item in value)
    return not (kind is int or kind is bool or value is None)


def _clean_already(attributes: dict[str, Any], cap: int) -> bool:
    """The fast path: plain ASCII keys and short ASCII / finite numeric values need nothing."""
    try:
        if not "".join(attributes).isascii():
            return False
    except TypeError:  # a non-string key
        return False
    for value in attributes.values():
        kind = type(value)
        if kind is str:
            if len(value) > cap or not value.isascii():
                return False
        elif kind is float:
            if not isfinite(value):
                return False
        elif kind is not int and kind is not bool and value is not None and _needs_work(value, cap):
            return False
    return True


def prepare_attributes(plain: dict[str, Any]) -> bool:
    """Turn the tuple values of ``plain`` into lists (as JSON gives them back), in place, and
    say whether it needs no other cleaning: :func:`clean_attributes`' fast-path check done in
    the same pass, for the SDK exporter, which copies every span's attributes anyway."""
    cap = max_attribute_chars()
    try:
        clean = "".join(plain).isascii()
    except TypeError:  # a non-string key
        clean = False
    for key, value in plain.items():
        kind = type(value)
        if kind is str:
            if clean and (len(value) > cap or not value.isascii()):
                clean = False
        elif kind is tuple:
            plain[key] = value = list(value)  # same key: the dict does not change size
            if clean and _needs_work(value, cap):
                clean = False
        elif kind is float:
            if clean and not isfinite(value):
                clean = False
        elif kind is not int and kind is not bool and clean and _needs_work(value, cap):
            clean = False
    return clean


def _clean_value(value: Any, cap: int) -> tuple[Any, int | None]:
    """(the storable value, its original length when it was cut).

    Values JSON cannot hold become what every backend stores for them: bytes are decoded
    (invalid UTF-8 as U+FFFD), NaN and infinities become "nan" / "inf" / "-inf", anything
    else its ``repr``.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = repair_text(value)
        if len(text) > cap:
            return text[:cap] + truncation_marker(len(text)), len(text)
        return text, None
    if isinstance(value, float):
        return (value if isfinite(value) else str(value)), None
    if value is None or isinstance(value, (bool, int)):
        return value, None
    if isinstance(value, (list, tuple)):
        cut = None
        items = []
        for item in value:
            clean, length = _clean_value(item, cap)
            items.append(clean)
            if length is not None:
                cut = max(cut or 0, length)
        return items, cut
    if isinstance(value, dict):
        cut = None
        out = {}
        for key, item in value.items():
            clean, length = _clean_value(item, cap)
            out[repair_text(key) if isinstance(key, str) else str(key)] = clean
            if length is not None:
                cut = max(cut or 0, length)
        return out, cut
    return _clean_value(repr(value), cap)


def clean_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` made storable (the same dict when nothing needed changing)."""
    cap = max_attribute_chars()
    if _clean_already(attributes, cap):
        return attributes
    out: dict[str, Any] = {}
    cut_keys: list[str] = []
    cut_sizes: list[int] = []
    for key, value in attributes.items():
        name = repair_text(key) if isinstance(key, str) else str(key)
        clean, length = _clean_value(value, cap)
        out[name] = clean
        if length is not None:
            cut_keys.append(str(name))
            cut_sizes.append(length)
    if cut_keys:
        out[AGENTEL_TRUNCATED_ATTRIBUTES] = [*out.get(AGENTEL_TRUNCATED_ATTRIBUTES, ()), *cut_keys]
        out[AGENTEL_TRUNCATED_SIZES] = [*out.get(AGENTEL_TRUNCATED_SIZES, ()), *cut_sizes]
    return out


def clean_events(events: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Span events (or links) with their names and attributes made storable."""
    if not events:
        return events
    out = events
    for i, event in enumerate(events):
        attributes = event.get("attributes")
        name = event.get("name")
        if (type(name) is not str or name.isascii()) and (
            not attributes or _clean_already(attributes, max_attribute_chars())
        ):
            continue
        if out is events:
            out = list(events)
        out[i] = {
            **event,
            "attributes": clean_attributes(attributes) if attributes else attributes,
            "name": repair_text(name) if type(name) is str else name,
        }
    return out


def clean_fields(record: Any) -> Any:
    """A built record's own fields made storable: text repaired, impossible numbers dropped.

    Written out long-hand: it runs once per span on the ingest path.
    """
    try:
        plain = (
            record.name.isascii()
            and record.trace_id.isascii()
            and record.span_id.isascii()
            and (record.parent_span_id or "").isascii()
            and (record.status_message or "").isascii()
            and (record.scope or "").isascii()
            and (record.service_name or "").isascii()
        )
    except AttributeError:  # not a string at all
        plain = False
    if not plain:
        for name in _TEXT_FIELDS:
            value = getattr(record, name)
            if isinstance(value, str):
                setattr(record, name, repair_text(value))
    counts = (
        record.start_ns,
        record.end_ns or 0,
        record.input_tokens or 0,
        record.output_tokens or 0,
        record.cache_read_tokens or 0,
        record.cache_write_tokens or 0,
        record.reasoning_tokens or 0,
        record.iteration or 0,
    )
    if max(counts) > INT64_MAX or min(counts) < INT64_MIN:
        for name in _INT_FIELDS:
            value = getattr(record, name)
            if value is not None and not INT64_MIN <= value <= INT64_MAX:
                setattr(record, name, 0 if name == "start_ns" else None)
    cost, ttft, tps = record.cost_usd, record.ttft_ms, record.output_tps
    if (
        (cost is not None and not isfinite(cost))
        or (ttft is not None and not isfinite(ttft))
        or (tps is not None and not isfinite(tps))
    ):
        for name in _FLOAT_FIELDS:
            value = getattr(record, name)
            if value is not None and not isfinite(value):
                setattr(record, name, None)
    breakdown = record.cost_breakdown
    if breakdown and not all(isfinite(v) for v in breakdown.values()):
        record.cost_breakdown = {k: v for k, v in breakdown.items() if isfinite(v)} or None
    return record
