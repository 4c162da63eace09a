"""The ``agentel`` command line: list runs, show a run's tree, run the demo."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentel.cli import _format as fmt
from agentel.store import (
    AmbiguousIdError,
    NotFoundError,
    Store,
    StoreError,
    default_store_url,
    open_store,
)

STORE_HELP = "Store URL: sqlite:///file.db, mongodb://host:port/db or memory:// [env AGENTEL_STORE]"


def _console() -> Console:
    """Rich output; when piped, no colour and a wide line so tables are never squeezed."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200, no_color=True)
    return console


def _open(url: str | None) -> Store:
    try:
        return open_store(url or default_store_url())
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


store_option = click.option("--store", "store_url", metavar="URL", default=None, help=STORE_HELP)


def format_option(*choices: str) -> Any:
    return click.option(
        "--format",
        "output",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="agentel")
def main() -> None:
    """agentel: OpenTelemetry for AI agents.

    Read back what instrumented agents recorded: every run, LLM call and tool call, with
    tokens, cost, latency and errors. Every command takes --store (default: $AGENTEL_STORE
    or sqlite:///agentel.db).
    """


def print_runs(runs: list[dict[str, Any]], console: Console) -> None:
    """The runs table shared by ``runs`` and ``demo``."""
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
            run["run_id"],
            run["agent_name"] or run["name"] or "-",
            fmt.status_text(run["status"]),
            fmt.short_time(run["start_time"]),
            fmt.duration(run["duration_ms"]),
            str(run["llm_calls"]),
            str(run["tool_calls"]),
            f"{fmt.tokens(run['input_tokens'])}/{fmt.tokens(run['output_tokens'])}",
            fmt.money(run["cost_usd"], run["unpriced_calls"]),
        )
    console.print(table)


@main.command()
@store_option
@click.option("--agent", help="Only runs of this agent name.")
@click.option(
    "--status", type=click.Choice(["running", "ok", "error", "abandoned"]), help="Only this status."
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--order-by",
    type=click.Choice(["start", "cost", "duration", "tokens"]),
    default="start",
    show_default=True,
    help="Sort key, descending.",
)
@format_option("table", "json")
def runs(
    store_url: str | None,
    agent: str | None,
    status: str | None,
    limit: int,
    offset: int,
    order_by: str,
    output: str,
) -> None:
    """List runs, newest first: agent, status, duration, LLM and tool calls, tokens, cost."""
    with _open(store_url) as store:
        found = store.runs(
            agent=agent, status=status, limit=limit, offset=offset, order_by=order_by
        )
    if output == "json":
        _echo_json(found)
        return
    if not found:
        click.echo(f"no runs in {store_url or default_store_url()}")
        return
    print_runs(found, _console())


def print_run(store: Store, run_id: str, console: Console) -> dict[str, Any]:
    """The run header and its span tree; shared by ``show`` and ``demo``."""
    run = store.run(run_id)
    roots = store.run_tree(run["run_id"])
    title = Text()
    title.append(f"run {run['run_id']}", style="bold")
    title.append(f"  {run['agent_name'] or run['name']}  ")
    title.append_text(fmt.status_text(run["status"]))
    title.append(
        f"  {fmt.duration(run['duration_ms'])}  llm {run['llm_calls']}  tools {run['tool_calls']}"
        f"  tokens {fmt.tokens(run['input_tokens'])}/{fmt.tokens(run['output_tokens'])}"
        f"  {fmt.money(run['cost_usd'], run['unpriced_calls'])}"
    )
    if run["errors"]:
        title.append(f"  errors {run['errors']}", style="bold red")
    console.print(fmt.span_tree(title, roots))
    return {**run, "spans": roots}


@main.command()
@click.argument("run_id", metavar="RUN")
@store_option
@format_option("table", "json")
def show(run_id: str, store_url: str | None, output: str) -> None:
    """Show one run as a span tree with duration, tokens, cost and errors on every node.

    RUN is a run id or any unique prefix of one.
    """
    with _open(store_url) as store:
        try:
            if output == "json":
                run = store.run(run_id)
                _echo_json({**run, "spans": store.run_tree(run["run_id"])})
            else:
                print_run(store, run_id, _console())
        except AmbiguousIdError as exc:
            raise click.ClickException(str(exc)) from exc
        except NotFoundError as exc:
            raise click.ClickException(str(exc)) from exc


@main.command()
@click.option(
    "--store",
    "store_url",
    default="sqlite:///agentel-demo.db",
    show_default=True,
    help="Where the demo writes its runs.",
)
@click.option("--model", default="gpt-4o-mini", show_default=True, help="Model name to request.")
def demo(store_url: str, model: str) -> None:
    """Run a tool-calling weather agent on 3 questions against a local scripted LLM server.

    Uses the plain openai SDK, instrumented by agentel.sdk.configure(); needs no API key and
    no network. Prints the runs and the last run's tree.
    """
    from agentel.cli._demo import run_demo

    run_demo(store_url, model, _console())


@main.command()
@click.option(
    "--store", "store_url", metavar="URL", required=True, help="Store to write into. " + STORE_HELP
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=4318, show_default=True)
@click.option(
    "--token",
    envvar="AGENTEL_RECEIVE_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' [env AGENTEL_RECEIVE_TOKEN].",
)
@click.option(
    "--max-body-mb",
    type=click.FloatRange(min=0.001),
    default=16.0,
    show_default=True,
    help="Reject larger request bodies (HTTP 413).",
)
def receive(store_url: str, host: str, port: int, token: str | None, max_body_mb: float) -> None:
    """Receive OTLP/HTTP traces (POST /v1/traces, protobuf or JSON, gzip) into a store.

    Point an OpenTelemetry Collector's otlphttp exporter, or any OTLP SDK
    (OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT), at it. Spans get the same normalization,
    run rollups and cost as spans from agentel's own exporters. Binds to localhost unless
    --host says otherwise. Stops on Ctrl-C.
    """
    from agentel.sdk.receiver import OTLPReceiver

    store = _open(store_url)
    try:
        receiver = OTLPReceiver(
            store, host, port, token=token, max_body_bytes=int(max_body_mb * 1024 * 1024)
        )
    except OSError as exc:
        store.close()
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    click.echo(f"agentel receive: {receiver.endpoint} -> {store.url} (Ctrl-C to stop)", err=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
        store.close()
        click.echo(
            f"received {receiver.accepted_spans} span(s), rejected {receiver.rejected_spans}",
            err=True,
        )


def _price_cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


@main.command()
@click.argument("model", required=False)
@click.option("--provider", default=None, help="Provider, to select provider-qualified prices.")
@format_option("table", "json")
def prices(model: str | None, provider: str | None, output: str) -> None:
    """List the price catalog, or show MODEL's prices and where they came from.

    Prices are USD per 1M tokens. Overrides from the JSON file named by AGENTEL_PRICING are
    included and win over the shipped catalog. An unknown MODEL exits with status 1: its calls
    get no cost and are counted as unpriced.
    """
    from agentel.semconv.pricing import PriceBook, PricingError

    try:
        book = PriceBook.from_env()
    except PricingError as exc:
        raise click.ClickException(str(exc)) from exc
    if model is None:
        entries = [
            {
                "provider": p.provider,
                "model": p.model,
                "input": p.input,
                "output": p.output,
                "cache_read": p.cache_read,
                "cache_write": p.cache_write,
                "reasoning": p.reasoning,
                "as_of": p.as_of,
                "source": p.source,
                "origin": p.origin,
            }
            for p in book.models()
        ]
        if output == "json":
            _echo_json({"version": book.version, "currency": "USD", "models": entries})
            return
        table = Table(
            title=f"agentel price catalog {book.version} (USD per 1M tokens)",
            title_justify="left",
        )
        for column in ("provider", "model", "input", "output", "cache read", "cache write"):
            table.add_column(column, justify="left" if column in ("provider", "model") else "right")
        table.add_column("reasoning", justify="right")
        table.add_column("as_of")
        table.add_column("source")
        for e in entries:
            table.add_row(
                e["provider"] or "",
                e["model"],
                *(_price_cell(e[k]) for k in ("input", "output", "cache_read", "cache_write")),
                _price_cell(e["reasoning"]),
                e["as_of"] or "",
                e["source"] if e["source"] == "catalog" else f"override ({e['origin']})",
            )
        _console().print(table)
        return
    found = book.describe(model, provider)
    if found is None:
        click.echo(
            f"agentel: no price for model {model!r}: it matches no catalog or override entry, "
            "so its calls are counted as unpriced (add it with AGENTEL_PRICING)",
            err=True,
        )
        sys.exit(1)
    if output == "json":
        _echo_json(found)
        return
    lines = [
        ("model", f"{found['query']} -> {found['model']} (match: {found['match']})"),
        ("provider", found["provider"] or ""),
        ("input", _price_cell(found["input"])),
        ("output", _price_cell(found["output"])),
        ("cache read", _price_cell(found["cache_read"]) or "= input"),
        ("cache write", _price_cell(found["cache_write"]) or "= input"),
        ("reasoning", _price_cell(found["reasoning"]) or "= output"),
        ("unit", f"{found['currency']} {found['unit']}"),
        ("source", found["source"]),
        ("origin", found["origin"]),
        ("date", found["origin_date"] or ""),
        ("as_of", found["as_of"] or ""),
        ("note", found["note"] or ""),
    ]
    for label, value in lines:
        click.echo(f"{label:<12} {value}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
