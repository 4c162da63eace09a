"""Patch and restore SDK methods for an instrumentor (wrapt 1.x and 2.x alike)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ._common import logger

Patch = tuple[str, str, Callable[..., Any]]
"""(module, "Class.method", wrapt wrapper)."""


def _owner(module_name: str, path: str) -> tuple[Any, str]:
    owner_path, _, attr = path.rpartition(".")
    owner: Any = importlib.import_module(module_name)
    for part in owner_path.split("."):
        owner = getattr(owner, part)
    return owner, attr


def apply(patches: Iterable[Patch]) -> list[tuple[str, str]]:
    """Wrap every target that exists in the installed SDK; returns those wrapped.

    Targets a given SDK version lacks are skipped (logged at DEBUG), so one instrumentor
    covers a range of SDK versions.
    """
    done: list[tuple[str, str]] = []
    for module_name, path, wrapper in patches:
        try:
            owner, attr = _owner(module_name, path)
            if not callable(getattr(owner, attr, None)):
                raise AttributeError(attr)
        except (ImportError, AttributeError):
            logger.debug("agentel: %s.%s not found; not instrumented", module_name, path)
            continue
        # positional arguments: the keyword names differ between wrapt 1.x and 2.x
        wrap_function_wrapper(owner, attr, wrapper)
        done.append((module_name, path))
    return done


def restore(patched: Iterable[tuple[str, str]]) -> None:
    """Put the original methods back."""
    for module_name, path in patched:
        owner, attr = _owner(module_name, path)
        unwrap(owner, attr)
