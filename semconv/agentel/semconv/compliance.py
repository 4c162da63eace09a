"""Check emitted attribute keys against the official OpenTelemetry registry and ours.

The official registry is read from the installed ``opentelemetry-semantic-conventions``
package (every ``opentelemetry.semconv[._incubating].attributes.*`` module); ours is
``registry.json``. Used by the test suite's compliance test, and usable by anyone who wants to
check their own spans.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from agentel.semconv.generate import load_registry

__all__ = [
    "OWN_NAMESPACES",
    "official_attribute_keys",
    "registered_attributes",
    "violations",
]

OWN_NAMESPACES = frozenset({"agentel", "gen_ai"})
"""Root namespaces in which every key must be registered (ours, or official GenAI)."""

_OFFICIAL_PACKAGES = (
    "opentelemetry.semconv.attributes",
    "opentelemetry.semconv._incubating.attributes",
)


@lru_cache(maxsize=1)
def official_attribute_keys() -> frozenset[str]:
    """Every attribute key defined by the installed ``opentelemetry-semantic-conventions``."""
    keys: set[str] = set()
    for package_name in _OFFICIAL_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            for name, value in vars(module).items():
                if name.isupper() and isinstance(value, str) and "." in value:
                    keys.add(value)
    return frozenset(keys)


@lru_cache(maxsize=1)
def registered_attributes() -> Mapping[str, Mapping[str, Any]]:
    """``registry.json``'s attributes by name."""
    return {entry["name"]: entry for entry in load_registry()["attributes"]}


def _root(key: str) -> str:
    return key.split(".", 1)[0]


def violations(keys: Iterable[str], event_names: Iterable[str] = ()) -> list[str]:
    """Problems with keys (and span event names) an instrumentation emitted, sorted.

    A key passes when ``registry.json`` lists it. Otherwise it is flagged when it sits in a
    namespace that a convention owns: ``agentel.``, ``gen_ai.``, or the root of any official
    key (``openai.``, ``server.``, ``error.`` ...). Other keys (``custom.key``, ``x``) belong
    to the application, which may pass its own attributes and event data. Event names under
    ``gen_ai.`` must be registered; ``agentel.<kind>`` events are the application's own.
    """
    official = official_attribute_keys()
    registered = registered_attributes()
    owned = OWN_NAMESPACES | {_root(key) for key in official}
    problems = []
    for key in set(keys):
        if key in registered:
            continue
        if key in official:
            problems.append(f"{key}: official key emitted but not listed in registry.json")
        elif _root(key) in owned:
            problems.append(f"{key}: not in the official registry nor in registry.json")
    events = {e["name"] for e in load_registry()["events"]}
    for name in set(event_names):
        if name.startswith("gen_ai.") and name not in events:
            problems.append(f"event {name}: gen_ai. event not listed in registry.json")
    return sorted(problems)
