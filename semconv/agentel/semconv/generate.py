"""Generate ``attributes.py`` and ``docs/semconv.md`` from ``registry.json``.

``registry.json`` (package data next to this module) is the single source of truth for every
attribute, span event, metric and operation agentel emits. Both generated files are checked in;
a test regenerates them in memory and fails on any difference. After editing the registry::

    python -m agentel.semconv.generate          # rewrite both files in the source tree
    python -m agentel.semconv.generate --check  # exit 1 if either file is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "ATTRIBUTES_PATH",
    "DOCS_PATH",
    "RegistryError",
    "constant_name",
    "load_registry",
    "main",
    "render_attributes",
    "render_docs",
    "validate",
]

ATTRIBUTES_PATH = Path("semconv/agentel/semconv/attributes.py")
"""Where the constants module lives, relative to the repository root."""
DOCS_PATH = Path("docs/semconv.md")
"""Where the human reference lives, relative to the repository root."""

TYPES = frozenset({"string", "int", "double", "boolean", "string[]", "int[]", "double[]"})
LEVELS = ("required", "conditionally_required", "recommended", "opt_in")
STABILITIES = frozenset({"stable", "development", "deprecated"})
ORIGINS = frozenset({"official", "agentel"})
INSTRUMENTS = frozenset({"histogram", "counter", "updowncounter", "gauge"})
SPAN_KINDS = frozenset({"CLIENT", "INTERNAL", "SERVER", "PRODUCER", "CONSUMER"})
COST_KEY = "gen_ai.usage.cost"
"""The one agentel-defined key allowed in the ``gen_ai.`` namespace."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_CONST = re.compile(r"^[A-Z][A-Z0-9_]*$")
_WRAP = 96
_ATTRIBUTE_FIELDS = (
    "name", "type", "unit", "brief", "requirement_level", "stability", "origin", "examples",
    "group",
)  # fmt: skip


class RegistryError(ValueError):
    """The registry is inconsistent; the message names every offending entry and field."""


def load_registry() -> dict[str, Any]:
    """The shipped ``registry.json``, parsed (not validated)."""
    text = resources.files(__package__).joinpath("registry.json").read_text(encoding="utf-8")
    return json.loads(text)


def constant_name(name: str) -> str:
    """Python constant for a dotted key: ``gen_ai.usage.input_tokens`` -> ``GEN_AI_USAGE_...``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def _const(entry: Mapping[str, Any]) -> str:
    return entry.get("const") or constant_name(entry["name"])


# --- validation ---------------------------------------------------------------------------------


def validate(registry: Mapping[str, Any]) -> None:
    """Raise :class:`RegistryError` listing every problem found in ``registry``."""
    problems: list[str] = []
    groups = {g["id"] for g in registry.get("groups", [])}
    names: set[str] = set()
    consts: set[str] = set()

    def const_ok(where: str, const: str) -> None:
        if not _CONST.match(const):
            problems.append(f"{where}: constant {const!r} is not UPPER_SNAKE_CASE")
        elif const in consts:
            problems.append(f"{where}: constant {const!r} is defined twice")
        consts.add(const)

    for entry in registry.get("attributes", []):
        name = entry.get("name", "?")
        where = f"attribute {name!r}"
        for field in _ATTRIBUTE_FIELDS:
            if field not in entry:
                problems.append(f"{where}: missing field {field!r}")
        if not _NAME.match(name):
            problems.append(f"{where}: name must be a dotted lower-case key")
        if name in names:
            problems.append(f"{where}: listed twice")
        names.add(name)
        const_ok(where, _const(entry))
        checks = (
            ("type", TYPES),
            ("requirement_level", LEVELS),
            ("stability", STABILITIES),
            ("origin", ORIGINS),
            ("group", groups),
        )
        for field, allowed in checks:
            if field in entry and entry[field] not in allowed:
                problems.append(f"{where}: {field} {entry[field]!r} not in {sorted(allowed)}")
        if not entry.get("brief"):
            problems.append(f"{where}: empty brief")
        if not isinstance(entry.get("examples"), list) or not entry.get("examples"):
            problems.append(f"{where}: examples must be a non-empty list")
        if entry.get("origin") == "agentel" and name.startswith("gen_ai.") and name != COST_KEY:
            problems.append(f"{where}: agentel keys live under 'agentel.', not 'gen_ai.'")
        if entry.get("origin") == "official" and name.startswith("agentel."):
            problems.append(f"{where}: an 'agentel.' key cannot be official")

    def refs(where: str, items: Sequence[Any]) -> None:
        for item in items:
            ref = item["name"] if isinstance(item, Mapping) else item
            if ref not in names:
                problems.append(f"{where}: attribute {ref!r} is not in the registry")
            if isinstance(item, Mapping) and item.get("requirement_level") not in LEVELS:
                problems.append(f"{where}: attribute {ref!r} has a bad requirement level")

    for event in registry.get("events", []):
        where = f"event {event.get('name')!r}"
        const_ok(where, event["const"])
        for field in ("origin", "stability", "brief"):
            if field not in event:
                problems.append(f"{where}: missing field {field!r}")
        refs(where, event.get("attributes", []))
    for metric in registry.get("metrics", []):
        where = f"metric {metric.get('name')!r}"
        const_ok(where, metric["const"])
        if metric.get("instrument") not in INSTRUMENTS:
            problems.append(f"{where}: instrument {metric.get('instrument')!r} unknown")
        for field in ("unit", "origin", "stability", "brief"):
            if field not in metric:
                problems.append(f"{where}: missing field {field!r}")
        refs(where, metric.get("attributes", []))
    categories = {c["name"] for c in registry.get("categories", [])}
    for op in registry.get("operations", []):
        where = f"operation {op.get('name')!r}"
        if op.get("category") not in categories:
            problems.append(f"{where}: category {op.get('category')!r} unknown")
        if op.get("span_kind") not in SPAN_KINDS:
            problems.append(f"{where}: span_kind {op.get('span_kind')!r} unknown")
    for setting in registry.get("settings", []):
        const_ok(f"setting {setting.get('const')!r}", setting["const"])
    if problems:
        raise RegistryError("registry.json: " + "; ".join(problems))


# --- attributes.py ------------------------------------------------------------------------------

_HEADER = '''\
"""Attribute keys, event and metric names, operations and settings that agentel emits and reads.

GENERATED from registry.json by ``python -m agentel.semconv.generate``: do not edit by hand.
Official OpenTelemetry GenAI names come first; anything the official registry lacks lives under
``agentel.`` (the one exception is ``gen_ai.usage.cost``, the de-facto cost key).
See docs/semconv.md for the human reference.
"""

from __future__ import annotations

from typing import Final
'''


def _docstring(text: str, indent: str = "") -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = textwrap.wrap(text, _WRAP - len(indent) - 3, break_on_hyphens=False)
    if len(lines) == 1 and len(indent) + len(lines[0]) + 6 <= 100:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def _constant(const: str, value: str, brief: str, indent: str = "") -> list[str]:
    line = f"{indent}{const}: Final = {json.dumps(value)}"
    if len(line) > 100:  # the layout ruff format gives an over-long assignment
        line = f"{indent}{const}: Final = (\n{indent}    {json.dumps(value)}\n{indent})"
    return [line, *_docstring(brief, indent)]


def _attribute_brief(entry: Mapping[str, Any]) -> str:
    parts = [entry["brief"]]
    tags = [entry["type"], entry["origin"], entry["stability"], entry["requirement_level"]]
    if entry.get("unit"):
        tags.insert(1, f"unit {entry['unit']}")
    if entry.get("read_only"):
        tags.append("read only: agentel never emits it")
    parts.append(f"({', '.join(tags)})")
    return " ".join(parts)


def _values_class(name: str, brief: str, entries: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["", "", f"class {name}:", *_docstring(brief, "    "), ""]
    for entry in entries:
        out.extend(_constant(entry["const"], entry["name"], entry["brief"], "    "))
    return out


def render_attributes(registry: Mapping[str, Any]) -> str:
    """The text of ``attributes.py`` for ``registry``."""
    validate(registry)
    out = [_HEADER]
    titles = {g["id"]: g["title"] for g in registry["groups"]}
    for group in titles:
        entries = [e for e in registry["attributes"] if e["group"] == group]
        if not entries:
            continue
        out.append(f"# --- {titles[group]} ".ljust(96, "-"))
        for entry in entries:
            out.extend(_constant(_const(entry), entry["name"], _attribute_brief(entry)))
        out.append("")
    out.append("# --- span events ".ljust(96, "-"))
    for event in registry["events"]:
        out.extend(_constant(event["const"], event.get("value", event["name"]), event["brief"]))
    out.append("")
    out.append("# --- metrics ".ljust(96, "-"))
    for metric in registry["metrics"]:
        brief = f"{metric['brief']} ({metric['instrument']}, unit {metric['unit']})"
        out.extend(_constant(metric["const"], metric["name"], brief))
    out.extend(
        _values_class("Operation", "Values of ``gen_ai.operation.name``.", registry["operations"])
    )
    out.extend(
        _values_class(
            "Category",
            "The span record's coarse category, derived from the operation (or foreign kinds).",
            registry["categories"],
        )
    )
    out.extend(
        _values_class(
            "Provider",
            "Values of ``gen_ai.provider.name`` that agentel's instrumentors emit.",
            registry["providers"],
        )
    )
    out.extend(["", ""])
    out.append("# --- settings ".ljust(96, "-"))
    for setting in registry["settings"]:
        out.extend(_constant(setting["const"], setting["value"], setting["brief"]))
    return "\n".join(out).rstrip("\n") + "\n"


# --- docs/semconv.md ----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        return "<br>".join(_cell_example(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _cell_example(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return f"`{text}`".replace("|", "\\|")


def _level(entry: Mapping[str, Any]) -> str:
    level = entry["requirement_level"].replace("_", " ")
    return f"{level} (read only)" if entry.get("read_only") else level


def render_docs(registry: Mapping[str, Any]) -> str:
    """The text of ``docs/semconv.md`` for ``registry``."""
    validate(registry)
    attrs = registry["attributes"]
    official = sum(1 for a in attrs if a["origin"] == "official")
    out = [
        "# agentel semantic conventions",
        "",
        "<!-- GENERATED from semconv/agentel/semconv/registry.json by "
        "`python -m agentel.semconv.generate`: do not edit by hand. -->",
        "",
        f"Registry version {registry['version']}: {len(attrs)} attributes ({official} official, "
        f"{len(attrs) - official} agentel), {len(registry['events'])} span events, "
        f"{len(registry['metrics'])} metrics, {len(registry['operations'])} operations.",
        "",
        "Official OpenTelemetry GenAI attributes come first; anything the official registry "
        "lacks lives under `agentel.`. The one exception is `gen_ai.usage.cost`, the de-facto "
        "cost key that OpenLIT emits and Langfuse ingests. Token counts follow OpenTelemetry: "
        "input tokens include cache-read and cache-write tokens, output tokens include "
        "reasoning tokens. Message content (prompts, completions, tool arguments and results) "
        "is captured only when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` opts in.",
        "",
        "Origin: `official` = in the installed `opentelemetry-semantic-conventions` registry; "
        "`agentel` = defined here. *Read only* attributes are understood when ingesting "
        "foreign spans but never emitted by agentel.",
        "",
        "## Operations",
        "",
        "| Operation | Category | Span kind | Span name | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op in registry["operations"]:
        out.append(
            f"| `{op['name']}` | {op['category']} | {op['span_kind']} | `{op['span_name']}` "
            f"| {_cell(op['brief'])} |"
        )
    out += ["", "Record categories:", ""]
    out += [f"- `{c['name']}`: {c['brief']}" for c in registry["categories"]]
    out += [
        "",
        "Spans of other conventions are understood at ingest (see "
        "`agentel.semconv.normalize`): OpenInference `openinference.span.kind`, OpenLLMetry "
        "`traceloop.span.kind` / `llm.request.type` and Langfuse `langfuse.observation.type` "
        "map onto these operations, so a foreign AGENT span is an `invoke_agent` span and can "
        "root a run; their model, token (`llm.token_count.*`, `llm.usage.*`, "
        "`langfuse.observation.usage_details`) and cost (`llm.cost.*`, "
        "`langfuse.observation.cost_details`, OpenLIT's `gen_ai.usage.cost`) keys are "
        "converted to the OpenTelemetry token semantics above.",
        "",
        "## Attributes",
        "",
    ]
    for group in registry["groups"]:
        entries = [e for e in attrs if e["group"] == group["id"]]
        if not entries:
            continue
        out += [
            f"### {group['title']}",
            "",
            "| Attribute | Type | Unit | Requirement | Stability | Origin | Description "
            "| Examples |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for e in entries:
            brief = e["brief"]
            if e.get("deprecated"):
                brief += f" Use `{e['deprecated']}`."
            if e.get("note"):
                brief += f" {e['note']}"
            out.append(
                f"| `{e['name']}` | {e['type']} | {_cell(e['unit'])} | {_level(e)} "
                f"| {e['stability']} | {e['origin']} | {_cell(brief)} | {_cell(e['examples'])} |"
            )
        out.append("")
    out += ["## Span events", ""]
    for event in registry["events"]:
        out += [
            f"### `{event['name']}`",
            "",
            f"{event['brief']} On {event['on']}. Origin: {event['origin']}; stability: "
            f"{event['stability']}.",
            "",
        ]
        if event.get("note"):
            out += [event["note"], ""]
        if event["attributes"]:
            out += ["| Attribute | Requirement |", "| --- | --- |"]
            for item in event["attributes"]:
                out.append(f"| `{item['name']}` | {item['requirement_level'].replace('_', ' ')} |")
            out.append("")
    out += [
        "## Metrics",
        "",
        "| Metric | Instrument | Unit | Origin | Stability | Description | Attributes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in registry["metrics"]:
        names = ", ".join(f"`{a}`" for a in m["attributes"])
        out.append(
            f"| `{m['name']}` | {m['instrument']} | {_cell(m['unit'])} | {m['origin']} "
            f"| {m['stability']} | {_cell(m['brief'])} | {names} |"
        )
    out += ["", "## Settings", "", "| Name | Description |", "| --- | --- |"]
    for s in registry["settings"]:
        out.append(f"| `{s['value']}` | {_cell(s['brief'])} |")
    return "\n".join(out) + "\n"


# --- command line -------------------------------------------------------------------------------


def _default_root() -> Path:
    # semconv/agentel/semconv/generate.py -> the repository root, in a source checkout
    return Path(__file__).resolve().parents[3]


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` compare) both generated files; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m agentel.semconv.generate")
    parser.add_argument("--root", type=Path, default=None, help="repository root")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    root = args.root or _default_root()
    registry = load_registry()
    outputs = {
        root / ATTRIBUTES_PATH: render_attributes(registry),
        root / DOCS_PATH: render_docs(registry),
    }
    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
