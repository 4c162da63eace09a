"""Human-readable durations, money, tokens, span trees and run tables for the terminal."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from agentel.semconv.attributes import AGENTEL_USAGE_MISSING

if TYPE_CHECKING:
    from agentel.store import Store


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
    """``1,234``, ``123.4k`` or ``418.2M`` for large counts; ``-`` when absent."""
    if value is None:
        return "-"
    if value >= 10_000_000:
        return f"{value / 1e6:.1f}M"
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


_USAGE_MISSING = {
    "stream_without_include_usage": "the stream was requested without "
    'stream_options={"include_usage": True}, so the API sent no token counts',
}
"""What each ``agentel.usage.missing`` value means, for the reader of ``show``."""


def unknown_cost_reason(span: dict[str, Any]) -> str | None:
    """Why a counted LLM call's cost is unknown (None when it is known)."""
    if span["cost_usd"] is not None or span["category"] not in ("llm", "embedding"):
        return None
    missing = (span.get("attributes") or {}).get(AGENTEL_USAGE_MISSING)
    if isinstance(missing, str):
        return _USAGE_MISSING.get(missing, missing)
    if span["input_tokens"] is None and span["output_tokens"] is None:
        return "the response reported no token counts"
    return f"no price for model {span['model']!r} (see agentel prices)"


def _span_label(span: dict[str, Any], same_call: bool = False) -> Text:
    label = Text()
    label.append(span["name"], style="bold")
    label.append(f"  {duration(span['duration_ms'])}", style="cyan")
    if same_call:  # another span of the call counted above: its usage is shown there
        label.append("  (same call, counted above)", style="dim")
    elif span["category"] in ("llm", "embedding"):
        label.append(f"  in {tokens(span['input_tokens'])} / out {tokens(span['output_tokens'])}")
        if span["cache_read_tokens"]:
            label.append(f" (cached {tokens(span['cache_read_tokens'])})")
        if span["counted"]:
            label.append(f"  {money(span['cost_usd'])}", style="green")
            reason = unknown_cost_reason(span)
            if reason is not None:
                label.append(f"  cost unknown: {reason}", style="yellow")
        else:
            label.append("  (counted below)", style="dim")
    if span["status"] == "error":
        message = span["status_message"] or ""
        label.append(f"  ERROR {span['error_type'] or ''} {message}".rstrip(), style="bold red")
    return label


def span_tree(title: Text | str, roots: list[dict[str, Any]]) -> Tree:
    """A rich Tree of nested span dicts (as returned by ``Store.run_tree``)."""
    tree = Tree(title)
    stack = [(tree, root, False) for root in reversed(roots)]
    while stack:  # iterative, so very deep traces cannot overflow the stack
        parent, span, inside = stack.pop()
        usage = span["category"] in ("llm", "embedding")
        node = parent.add(_span_label(span, inside and usage))
        inside = inside or (usage and span["counted"])
        stack.extend((node, child, inside) for child in reversed(span["children"]))
    return tree


# --- replay -----------------------------------------------------------------------------------
def clip(text: str, limit: int = 160) -> str:
    """One line of at most ``limit`` characters (newlines become spaces, ``…`` marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def compact(value: Any, limit: int = 160) -> str:
    """A value as short one-line JSON (text stays text)."""
    if isinstance(value, str):
        return clip(value, limit)
    return clip(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), limit)


def _offset(entry: dict[str, Any], first: datetime) -> str:
    ms = (datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) - first).total_seconds()
    return "+0ms" if ms <= 0 else "+" + duration(ms * 1000)


def _replay_text(kind: str, d: dict[str, Any]) -> Text:
    text = Text()
    if kind == "run_started":
        text.append(d["agent_name"] or d["name"] or "run", style="bold")
        for label in ("conversation_id", "user_id", "service_name"):
            if d.get(label):
                text.append(f"  {label.split('_')[0]} {d[label]}")
    elif kind == "user_message":
        text.append(clip(d["content"]), style="bold")
    elif kind == "llm_request":
        text.append(f"{d['model'] or d['name']}", style="bold")
        if d["provider"]:
            text.append(f" ({d['provider']})")
        if d["input_messages"]:
            text.append(f"  {d['input_messages']} messages")
        if d["iteration"] is not None:
            text.append(f"  iteration {d['iteration']}")
    elif kind == "llm_response":
        text.append(f"{d['model'] or '-'}", style="bold")
        text.append(
            f"  in {tokens(d['input_tokens'])} / out {tokens(d['output_tokens'])}"
            f"  {money(d['cost_usd']) if d['counted'] else '(counted below)'}"
            f"  {duration(d['duration_ms'])}"
        )
        if d["ttft_ms"] is not None:
            text.append(f"  ttft {duration(d['ttft_ms'])}")
        if d["status"] == "error":
            text.append("  failed", style="bold red")
        if d["tool_calls"]:
            text.append(f"  -> calls {', '.join(str(t) for t in d['tool_calls'])}")
        if d["output"]:
            text.append(f"  {clip(d['output'], 120)!r}", style="italic")
    elif kind == "tool_called":
        text.append(f"{d['tool_name']}", style="bold")
        if d["arguments"] is not None:
            text.append(f"({compact(d['arguments'], 120)})")
        if d["tool_call_id"]:
            text.append(f"  {d['tool_call_id']}", style="dim")
    elif kind == "tool_result":
        text.append(f"{d['tool_name']}", style="bold")
        text.append(f"  {duration(d['duration_ms'])}")
        if d["status"] == "error":
            text.append(f"  failed: {d['error_type'] or 'error'}", style="bold red")
        if d["result"] is not None:
            text.append(f"  -> {compact(d['result'], 120)}")
    elif kind == "error":
        text.append(f"{d['error_type'] or 'error'}: {clip(d['message'] or '')}", style="bold red")
        text.append(f"  (in {d['span_name']})")
    elif kind == "custom":
        text.append(d["event"], style="bold")
        text.append(f"  {compact(d['attributes'])}")
    elif kind == "run_finished":
        text.append_text(status_text(d["status"]))
        text.append(
            f"  {duration(d['duration_ms'])}  llm {d['llm_calls']}  tools {d['tool_calls']}"
            f"  tokens {tokens(d['input_tokens'])}/{tokens(d['output_tokens'])}"
            f"  {money(d['cost_usd'], d['unpriced_calls'])}"
        )
        if d["errors"]:
            text.append(f"  errors {d['errors']}", style="bold red")
    else:  # plan, state_updated
        text.append(compact(d))
    return text


_REPLAY_STYLE = {"error": "red", "run_started": "bold", "run_finished": "bold"}


def replay_lines(entries: list[dict[str, Any]]) -> list[Text]:
    """One line per replay entry: offset from the first entry, type, what happened."""
    if not entries:
        return [Text("no entries")]
    first = datetime.fromisoformat(entries[0]["time"].replace("Z", "+00:00"))
    lines = [Text(f"{entries[0]['time']}  (offsets from here)", style="dim")]
    for entry in entries:
        line = Text(f"{_offset(entry, first):>9}  ", style="cyan")
        line.append(f"{entry['type']:<14}", style=_REPLAY_STYLE.get(entry["type"], ""))
        line.append_text(_replay_text(entry["type"], entry["data"]))
        lines.append(line)
    return lines


# --- stats --------------------------------------------------------------------------------------
STAT_FIELDS = (
    "group",
    "count",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced_calls",
    "p50_ms",
    "p95_ms",
)


def group_label(value: str | None) -> str:
    return "(none)" if value is None else value


def stats_table(rows: list[dict[str, Any]], by: str) -> Table:
    """The stats rows as a table."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column(by, no_wrap=True)
    for column in ("count", "errors", "tokens in", "tokens out", "cached", "cost", "p50", "p95"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        errors = f"{row['errors']} ({row['error_rate']:.0%})" if row["errors"] else "0"
        table.add_row(
            group_label(row["group"]),
            f"{row['count']:,}",
            Text(errors, style="red" if row["errors"] else ""),
            tokens(row["input_tokens"]),
            tokens(row["output_tokens"]),
            tokens(row["cache_read_tokens"]),
            money(row["cost_usd"], row["unpriced_calls"]),
            duration(row["p50_ms"]),
            duration(row["p95_ms"]),
        )
    return table


_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, top: float, width: int) -> str:
    """A horizontal bar of ``value / top`` of ``width`` cells, in eighths of a cell."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / top * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def cost_chart(rows: list[dict[str, Any]], by: str, width: int = 40) -> Text:
    """A terminal bar chart of cost per group."""
    chart = Text(f"cost by {by}\n", style="bold")
    top = max(row["cost_usd"] for row in rows)
    if top <= 0:
        chart.append("no priced usage in these groups")
        return chart
    label_width = min(32, max(len(group_label(r["group"])) for r in rows))
    for row in rows:
        label = clip(group_label(row["group"]), label_width).ljust(label_width)
        chart.append(f"{label}  ")
        chart.append(bar(row["cost_usd"], top, width).ljust(width), style="green")
        chart.append(f"  {money(row['cost_usd'], row['unpriced_calls'])}\n")
    chart.rstrip()
    return chart


# --- diff ---------------------------------------------------------------------------------------
_DIFF_STYLE = {"same": "green", "changed": "bold red", "removed": "red", "added": "red"}


def step_label(step: dict[str, Any] | None) -> str:
    """One diff step in a few words: ``llm gpt-4o-mini -> get_weather(...)`` or
    ``tool get_weather({...}) -> {...}``."""
    if step is None:
        return "-"
    if step["kind"] == "tool":
        label = f"tool {step['tool_name'] or step['name']}"
        if step["arguments"] is not None:
            label += f"({compact(step['arguments'], 30)})"
        if step["output"] is not None:
            label += f" -> {compact(step['output'], 24)}"
    else:
        label = f"llm {step['model'] or step['name']}"
        calls = step["tool_calls"] or []
        if calls:
            label += " -> " + ", ".join(
                f"{c['name']}({compact(c['arguments'], 30)})" for c in calls
            )
        elif step["output"] is not None:
            label += f" {compact(step['output'], 34)!r}"
    if step["status"] == "error":
        label += " FAILED"
    return label


def quoted(value: Any, limit: int = 90) -> str:
    """A value as one line of JSON, strings quoted (so ``"1"`` and ``1`` read differently)."""
    return clip(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), limit)


def _signed(value: float | None, render: Any) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + render(abs(value))


def diff_view(found: dict[str, Any]) -> list[Any]:
    """What ``agentel diff`` prints: a verdict, the aligned steps, the differences, the totals."""
    a, b = found["run_a"], found["run_b"]
    changed = sum(step["status"] != "same" for step in found["steps"])
    verdict = Text(f"run a {a['run_id']}  vs  run b {b['run_id']}: ")
    if found["same"]:
        verdict.append("same behaviour", style="bold green")
    else:
        verdict.append(f"diverged ({changed} of {len(found['steps'])} steps)", style="bold red")
    if not found["content"]:
        verdict.append(
            "\n(content was not captured in both runs: outputs and arguments not compared)",
            style="dim",
        )
    steps = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (
        ("#", "right"),
        ("status", "left"),
        ("run a", "left"),
        ("run b", "left"),
        ("Δ tokens in/out", "right"),
        ("Δ cost", "right"),
        ("Δ time", "right"),
    ):
        steps.add_column(column, justify=justify)  # type: ignore[arg-type]
    for step in found["steps"]:
        d = step["deltas"]
        steps.add_row(
            str(step["index"]),
            Text(step["status"], style=_DIFF_STYLE[step["status"]]),
            step_label(step["a"]),
            step_label(step["b"]),
            f"{_signed(d.get('input_tokens'), tokens)}/{_signed(d.get('output_tokens'), tokens)}"
            if d
            else "",
            _signed(d.get("cost_usd"), money) if d else "",
            _signed(d.get("duration_ms"), duration) if d else "",
        )
    notes = Text()
    for step in found["steps"]:
        for difference in step["differences"]:
            notes.append(f"step {step['index']}: {difference['field']} differs: ", style="bold")
            notes.append(f"{quoted(difference['a'])} vs {quoted(difference['b'])}\n")
    notes.rstrip()
    totals = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("total", "run a", "run b", "Δ"):
        totals.add_column(column, justify="left" if column == "total" else "right")
    for name, row in found["totals"].items():
        render: Any = {"cost_usd": money, "duration_ms": duration}.get(name, tokens)
        totals.add_row(
            name,
            render(row["a"]) if row["a"] is not None else "-",
            render(row["b"]) if row["b"] is not None else "-",
            _signed(row["delta"], render),
        )
    return [verdict, steps, *([notes] if notes else []), totals]


def short_ids(ids: list[str], min_len: int = 12) -> dict[str, str]:
    """Each id's shortest prefix (at least ``min_len``) that no other listed id shares.

    Run ids are 48 hex characters (trace id + root span id); a table shows what tells the
    listed runs apart, as ``git log --oneline`` does. Runs of one trace share its 32-hex
    prefix, so theirs run on into the root span id. Every command accepts the prefix.
    """
    ordered = sorted(set(ids))
    needed = dict.fromkeys(ordered, min_len)
    for left, right in itertools.pairwise(ordered):
        pairs = enumerate(zip(left, right, strict=False))
        common = next((i for i, (a, b) in pairs if a != b), min(len(left), len(right)))
        needed[left] = max(needed[left], common + 1)
        needed[right] = max(needed[right], common + 1)
    return {run_id: run_id[: needed[run_id]] for run_id in ordered}


def print_runs(runs: list[dict[str, Any]], console: Console) -> None:
    """The runs table shared by ``runs`` and ``demo``: ids shortened to unique prefixes."""
    shown = short_ids([run["run_id"] for run in runs])
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, justify in (
        ("run", "left"),
        ("agent", "left"),
        ("status", "left"),
        ("start (UTC)", "left"),
        ("duration", "right"),
        ("llm", "right"),
        ("tools", "right"),
        ("tokens in/out", "right"),
        ("cost", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for run in runs:
        table.add_row(
            shown[run["run_id"]],
            run["agent_name"] or run["name"] or "-",
            status_text(run["status"]),
            short_time(run["start_time"]),
            duration(run["duration_ms"]),
            str(run["llm_calls"]),
            str(run["tool_calls"]),
            f"{tokens(run['input_tokens'])}/{tokens(run['output_tokens'])}",
            money(run["cost_usd"], run["unpriced_calls"]),
        )
    console.print(table)


def print_run(store: Store, run_id: str, console: Console) -> dict[str, Any]:
    """The run header and its span tree; shared by ``show`` and ``demo``."""
    run = store.run(run_id)
    roots = store.run_tree(run["run_id"])
    title = Text()
    title.append(f"run {run['run_id']}", style="bold")
    title.append(f"  {run['agent_name'] or run['name']}  ")
    title.append_text(status_text(run["status"]))
    title.append(
        f"  {duration(run['duration_ms'])}  llm {run['llm_calls']}  tools {run['tool_calls']}"
        f"  tokens {tokens(run['input_tokens'])}/{tokens(run['output_tokens'])}"
        f"  {money(run['cost_usd'], run['unpriced_calls'])}"
    )
    if run["unpriced_calls"]:
        title.append(f"  (cost unknown for {run['unpriced_calls']} call(s): see below)")
    if run["errors"]:
        title.append(f"  errors {run['errors']}", style="bold red")
    console.print(span_tree(title, roots))
    return {**run, "spans": roots}


def _value(value: Any) -> str:
    return "none" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def problem_line(problem: dict[str, Any]) -> str:
    """One ``Store.doctor`` problem as a sentence (the kinds: ``agentel.store.doctor``)."""
    kind = problem["problem"]
    if kind == "no_run_id":
        return f"trace {problem['trace_id']}: {problem['spans']} span(s) belong to no run"
    head = f"run {problem['run_id']}: "
    if kind == "missing_run":
        return head + f"{problem['spans']} span(s) but no run record (`runs` does not list it)"
    if kind == "empty_run":
        return head + "a run record with no span"
    if kind == "span_flags":
        return head + (
            f"{problem['spans']} span(s) with a stale counted flag or merged usage "
            "(calls counted twice or not at all)"
        )
    fields = ", ".join(
        f"{name} {_value(v['stored'])} (spans: {_value(v['spans'])})"
        for name, v in problem["fields"].items()
    )
    return head + f"rollup disagrees with its spans: {fields}"
