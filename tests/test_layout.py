"""The package layout docs/architecture.md describes: namespace package, dependency direction, lazy SDKs, wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("semconv", "instrumentation", "exporters", "src")

# layer -> agentel packages it must not import (at any level inside the layer's modules)
FORBIDDEN = {
    "semconv/agentel/semconv": ("instrumentation", "exporters", "store", "sdk", "cli", "testing"),
    "instrumentation/agentel/instrumentation": ("exporters", "store", "sdk", "cli"),
    "src/agentel/store": ("instrumentation", "exporters", "sdk", "cli"),
    "exporters/agentel/exporters": ("instrumentation", "sdk", "cli"),
}
IMPORT = re.compile(r"^\s*(?:from|import)\s+agentel\.(\w+)", re.M)


def test_no_agentel_init_anywhere():
    for root in ROOTS:
        assert not (ROOT / root / "agentel" / "__init__.py").exists(), root


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_dependency_direction(layer):
    bad = []
    for path in (ROOT / layer).rglob("*.py"):
        for name in IMPORT.findall(path.read_text()):
            if name in FORBIDDEN[layer]:
                bad.append(f"{path.relative_to(ROOT)} imports agentel.{name}")
    assert not bad, bad


def test_instrumentation_never_imports_the_sdk_at_module_level():
    top_level = re.compile(r"^(?:from|import)\s+opentelemetry\.sdk", re.M)
    bad = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "instrumentation").rglob("*.py")
        if top_level.search(p.read_text())
    ]
    assert not bad, bad


def test_core_imports_work_without_provider_sdks():
    """`import agentel.sdk, agentel.store, agentel.exporters.sqlite` with openai/anthropic absent."""
    code = (
        "import sys\n"
        "for name in ('openai', 'anthropic', 'pymongo', 'langchain_core'):\n"
        "    sys.modules[name] = None  # any import of them now raises ImportError\n"
        "import agentel.sdk, agentel.store, agentel.exporters.sqlite, agentel.instrumentation\n"
        "import agentel.exporters.mongodb, agentel.store.mongodb, agentel.store.memory\n"
        "import agentel.instrumentation.openai\n"
        "assert 'openai' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.slow
def test_wheel_contains_every_source_root(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("agentel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "agentel/semconv/attributes.py",
        "agentel/semconv/prices.json",
        "agentel/instrumentation/__init__.py",
        "agentel/instrumentation/openai/__init__.py",
        "agentel/exporters/sqlite.py",
        "agentel/exporters/mongodb.py",
        "agentel/store/mongodb.py",
        "agentel/store/sqlite.py",
        "agentel/sdk/__init__.py",
        "agentel/cli/main.py",
        "agentel/testing/__init__.py",
        "agentel/examples/weather_agent.py",
        "agentel/ui/app.py",
        "agentel/ui/static/index.html",
        "agentel/ui/static/app.js",
        "agentel/ui/static/run.js",
        "agentel/ui/static/style.css",
    ):
        assert module in names, module
    assert "agentel/__init__.py" not in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "agentel_sqlite = agentel.exporters.sqlite:SQLiteSpanExporter" in text
    assert "agentel_mongodb = agentel.exporters.mongodb:MongoSpanExporter" in text
    assert "agentel = agentel.cli.entry:main" in text


def test_cli_modules_import_without_a_cycle():
    """``cli.main`` uses its helper modules; none of them imports ``cli.main`` back, even lazily."""
    cli = ROOT / "src" / "agentel" / "cli"
    names = {p.stem for p in cli.glob("*.py")}
    edge = re.compile(
        r"^\s*(?:from agentel\.cli\.(\w+) import|from agentel\.cli import (\w+))", re.M
    )
    graph = {
        name: {a or b for a, b in edge.findall((cli / f"{name}.py").read_text())} & names
        for name in names
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start] - seen:
            seen.add(nxt)
            if nxt == goal or reaches(nxt, goal, seen):
                return True
        return False

    cycles = sorted(name for name in names if reaches(name, name, set()))
    assert not cycles, cycles


def test_one_list_of_instrumentors_and_exporters():
    """pyproject.toml's entry points are the only list: configure() keeps no copy of them, and
    store URLs are told apart in one place (``agentel.store.store_kind``)."""
    from agentel.sdk._configure import _store_exporter, instrumentors

    configure = (ROOT / "src" / "agentel" / "sdk" / "_configure.py").read_text()
    assert not re.findall(r"agentel\.(?:instrumentation|exporters)\.\w+:\w+", configure)
    assert "mongodb" not in configure  # the URL dispatch lives in agentel.store
    pyproject = (ROOT / "pyproject.toml").read_text()
    declared = re.findall(
        r"^agentel_(\w+) = \"(agentel\.instrumentation\.[\w.]+:\w+)\"", pyproject, re.M
    )
    assert instrumentors() == dict(declared)
    assert type(_store_exporter("sqlite:///x.db")).__name__ == "SQLiteSpanExporter"
    assert type(_store_exporter("mongodb://h:1/db")).__name__ == "MongoSpanExporter"
