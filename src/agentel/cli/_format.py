"""Human-readable durations, money, tokens and span trees for the terminal."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree


def duration(ms: float | None) -> str:
    """``850ms``, ``1.24s``, ``3m05s``; ``-`` when unknown (a run still going)."""
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def money(usd: float | None, unpriced: int = 0) -> str:
    """``$0.0123`` with precision that keeps small agent costs readable; ``?`` marks unpriced."""
    if usd is None:
        return "?"
    if usd == 0:
        text = "$0"
    elif usd < 0.01:
        text = f"${usd:.6f}".rstrip("0")
    elif usd < 100:
        text = f"${usd:.4f}"
    else:
        text = f"${usd:,.2f}"
    return text + ("+?" if unpriced else "")


def tokens(value: int | None) -> str:
    """``1,234`` or ``12.3k`` for large counts; ``-`` when absent."""
    if value is None:
        return "-"
    if value >= 100_000:
        return f"{value / 1000:.1f}k"
    return f"{value:,}"


def short_time(iso: str | None) -> str:
    """``2026-11-21 19:04:05`` from an ISO-8601 UTC string."""
    if not iso:
        return "-"
    return iso[:19].replace("T", " ")


_STATUS_STYLE = {"error": "bold red", "ok": "green", "running": "yellow", "abandoned": "magenta"}


def status_text(status: str) -> Text:
    """The status word, coloured (colour is dropped automatically when not a TTY)."""
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _span_label(span: dict[str, Any]) -> Text:
    label = Text()
    label.append(span["name"], style="bold")
    label.append(f"  {duration(span['duration_ms'])}", style="cyan")
    if span["category"] in ("llm", "embedding"):
        label.append(f"  in {tokens(span['input_tokens'])} / out {tokens(span['output_tokens'])}")
        if span["cache_read_tokens"]:
            label.append(f" (cached {tokens(span['cache_read_tokens'])})")
        if span["counted"]:
            label.append(f"  {money(span['cost_usd'])}", style="green")
        else:
            label.append("  (counted below)", style="dim")
    if span["status"] == "error":
        message = span["status_message"] or ""
        label.append(f"  ERROR {span['error_type'] or ''} {message}".rstrip(), style="bold red")
    return label


def span_tree(title: Text | str, roots: list[dict[str, Any]]) -> Tree:
    """A rich Tree of nested span dicts (as returned by ``Store.run_tree``)."""
    tree = Tree(title)
    stack = [(tree, root) for root in reversed(roots)]
    while stack:  # iterative, so very deep traces cannot overflow the stack
        parent, span = stack.pop()
        node = parent.add(_span_label(span))
        stack.extend((node, child) for child in reversed(span["children"]))
    return tree
