"""Helpers for the integration tests: a stored run tree reduced to its shape."""

from __future__ import annotations

from typing import Any

# gpt-4o-mini list prices, USD per 1M tokens: input 0.15, output 0.60
IN, OUT = 0.15e-6, 0.60e-6

Shape = tuple[str, tuple[Any, ...]]


def shape(node: dict[str, Any]) -> Shape:
    """(name, sorted children shapes): exact structure, independent of parallel start order."""
    return node["name"], tuple(sorted(shape(child) for child in node["children"]))


def tree(name: str, *children: Shape) -> Shape:
    return name, tuple(sorted(children))


def run_totals(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("llm_calls", "tool_calls", "errors", "input_tokens", "output_tokens", "cost_usd")
    return {k: run[k] for k in keys}
