"""Content search: the captured-content attributes ``runs(text=...)`` looks in, folded matching."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from agentel.semconv import attributes as A

CONTENT_KEYS = (
    A.GEN_AI_INPUT_MESSAGES,
    A.GEN_AI_OUTPUT_MESSAGES,
    A.GEN_AI_SYSTEM_INSTRUCTIONS,
    A.GEN_AI_TOOL_CALL_ARGUMENTS,
    A.GEN_AI_TOOL_CALL_RESULT,
)
"""The captured-content attributes ``runs(text=...)`` searches (on spans and span events)."""

_STRUCTURAL = frozenset({"role", "type", "id", "name", "finish_reason", "modality", "mime_type"})
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """Lower-case ASCII letters only: what SQLite's LIKE folds, so every backend agrees."""
    return text.translate(_ASCII_LOWER)


def _leaves(value: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(value, str):
        if key not in _STRUCTURAL:
            yield value
    elif isinstance(value, int) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, Mapping):
        for k, item in value.items():
            yield from _leaves(item, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)


def content_texts(value: Any) -> Iterator[str]:
    """The searchable texts of one content attribute value.

    A JSON value (the parts-based messages) is decoded and its texts searched, not its
    structure (roles, part types, ids); anything else (plain or truncated text) as it is.
    """
    if not isinstance(value, str):
        yield from _leaves(value)
        return
    if value[:1] in ("[", "{", '"'):
        try:
            decoded = json.loads(value)
        except ValueError:
            pass
        else:
            yield from _leaves(decoded)
            return
    yield value


def span_has_text(
    attributes: Mapping[str, Any], events: Iterable[Mapping[str, Any]], needle: str
) -> bool:
    """Whether ``needle`` (already :func:`fold`-ed) occurs in the span's captured content."""
    sources = [attributes, *((e.get("attributes") or {}) for e in events)]
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        for key in CONTENT_KEYS:
            value = source.get(key)
            if value is not None and any(needle in fold(t) for t in content_texts(value)):
                return True
    return False


def _escaped(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def stored_patterns(needle: str) -> list[str]:
    """Substrings one of which the *stored* attributes/events JSON must contain when a span
    matches ``needle``: the needle as the store escapes it, and as content JSON escaped it
    first (with or without ASCII escapes). JSON escaping maps each character on its own, so
    this is a safe pre-filter for backends that search the stored text; Python decides."""
    variants = {needle, _escaped(needle, False), _escaped(needle, True)}
    return sorted({_escaped(v, False) for v in variants})


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE ... ESCAPE '!'`` with the wildcards in ``text`` escaped."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"
