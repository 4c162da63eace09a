"""``agentel demo``: the weather agent from examples/ on 3 questions, against the scripted server."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import click
from rich.console import Console

from agentel.cli._format import print_run, print_runs, short_ids
from agentel.store import open_store, sqlite_path

QUESTIONS = (
    "What's the weather in Paris?",
    "Is it raining in London right now?",
    "Should I pack a coat for Tokyo?",
)


def _example(name: str) -> ModuleType:
    """Load an example by file: from the source checkout, or the copy packaged in the wheel."""
    here = Path(__file__).resolve()
    candidates = [here.parents[3] / "examples" / name, here.parents[1] / "examples" / name]
    for path in candidates:
        if path.is_file():
            spec = importlib.util.spec_from_file_location(f"agentel_example_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise click.ClickException(
        f"example {name} not found (looked in {', '.join(map(str, candidates))})"
    )


def _fresh_sqlite(url: str) -> None:
    """The demo starts from an empty store so its output always shows exactly its own runs."""
    if not url.startswith("sqlite:"):
        return
    path = sqlite_path(url)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


def run_demo(store_url: str, model: str, console: Console) -> None:
    """Run the demo agent and print what the store recorded."""
    import openai

    import agentel.sdk
    from agentel.testing import ScriptedLLMServer

    weather = _example("weather_agent.py")
    _fresh_sqlite(store_url)
    with ScriptedLLMServer() as server:
        console.print(f"scripted OpenAI-compatible server on {server.openai_base_url}")
        handle = agentel.sdk.configure(
            store_url, instrument=["openai"], service_name="agentel-demo"
        )
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="demo", max_retries=0)
        for question in QUESTIONS:
            answer = weather.run_agent(client, question, model=model)
            console.print(f"[bold]Q:[/bold] {question}\n[bold]A:[/bold] {answer}")
        handle.shutdown()
    console.print(f"\nwrote {store_url}\n")
    with open_store(store_url) as store:
        runs = store.runs(limit=10)
        console.print(f"$ agentel runs --store {store_url}")
        print_runs(runs, console)
        if runs:
            first = short_ids([run["run_id"] for run in runs])[runs[0]["run_id"]]
            console.print(f"\n$ agentel show {first} --store {store_url}")
            print_run(store, runs[0]["run_id"], console)
    console.print(f"\nopen them in the web UI:\n  agentel ui --store {store_url}")
