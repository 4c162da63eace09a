"""The ``agentel`` command line: runs, show, replay, diff, rerun, cassette, stats, doctor,
export, import, prune, feedback, demo, prices, receive and ui."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import IO, Any

import click
from rich.console import Console
from rich.table import Table

from agentel.cli import _format as fmt
from agentel.cli._demo import run_demo
from agentel.cli._ui import STORE_HELP, ui
from agentel.store import (
    AmbiguousIdError,
    NotFoundError,
    QueryError,
    Store,
    StoreError,
    StoreURLError,
    default_store_url,
    open_store,
    sqlite_path,
)
from agentel.store.liveness import abandon_after
from agentel.store.query import REPLAY_TYPES, STATS_BY, parse_duration_ms, parse_time
from agentel.store.where import FIELD_NAMES, WhereError, parse

EXIT_CODES = """\b
Exit status:
  0  success
  1  not found (unknown run or trace id, ambiguous id prefix: the candidates are listed)
     or an operational error (store unreachable or unreadable)
  2  bad usage or input (unknown option, bad --where / --since / --store value, a file
     that is not OTLP/JSON, bad lines or spans on import: the valid ones are stored), or
     prune refused without --yes when not interactive"""


class BadInput(click.ClickException):
    """Bad input that is not a command-line syntax error: exit status 2."""

    exit_code = 2


class AgentelGroup(click.Group):
    """Turns store errors into messages and exit statuses (see ``EXIT_CODES``), not tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (WhereError, QueryError, StoreURLError) as exc:
            raise BadInput(str(exc)) from exc
        except (NotFoundError, AmbiguousIdError, StoreError) as exc:
            raise click.ClickException(str(exc)) from exc
        except BrokenPipeError:  # `agentel export | head`: stop quietly, as other tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except sqlite3.Error as exc:
            raise click.ClickException(f"store error: {exc}") from exc
        except OSError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("pymongo", "bson"):
                raise click.ClickException(f"MongoDB error: {exc}") from exc
            raise


def _console() -> Console:
    """Rich output; when piped, no colour and a wide line so tables are never squeezed."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200, no_color=True)
    return console


def _check_settings() -> None:
    """Settings the stores read from the environment: a bad one is an error naming it (the
    stores themselves, inside an application, log it and use the default)."""
    try:
        abandon_after()
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


def _open(url: str | None, *, existing: bool = False, reader: bool = False) -> Store:
    """Open a store; with ``existing``, a SQLite file that is not there is an error, not a new
    empty store (a typo in --store must not look like "no runs").

    A ``reader`` (a command that only reads) opens a SQLite file it cannot write, or that
    sits in a directory it cannot write, read-only (``open_store(read_only=True)``), so a
    store on a read-only mount or in someone else's directory can still be read; a file it
    can write is opened as usual, so an older store is upgraded and crashed runs are marked.
    """
    _check_settings()
    url = url or default_store_url()
    read_only = False
    if (existing or reader) and url.startswith("sqlite:"):
        path = sqlite_path(url)
        if path != ":memory:" and not os.path.exists(path):
            raise click.ClickException(f"no store at {path} ({url}): nothing was recorded there")
        if path != ":memory:" and os.path.getsize(path) == 0:
            # opening it would write a schema into it: a reader never writes
            raise click.ClickException(f"{path} ({url}) is empty: nothing was recorded there")
        directory = os.path.dirname(os.path.abspath(path))
        writable = os.access(path, os.W_OK) and os.access(directory, os.W_OK)
        read_only = reader and path != ":memory:" and not writable
    return open_store(url, read_only=read_only)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@contextlib.contextmanager
def _progress(description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr, only when stderr is a terminal; yields ``advance(n)``."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


class WhenType(click.ParamType):
    """A time bound: an ISO date/time or an age (30m, 2h, 7d, 2w)."""

    name = "WHEN"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            ns = parse_time(value, param.name if param and param.name else "time")
        except QueryError as exc:
            self.fail(str(exc), param, ctx)
        return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)  # type: ignore[operator]


class DurationType(click.ParamType):
    """A duration: milliseconds, or 500ms, 2s, 1.5m, 1h."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return parse_duration_ms(value, "duration")
        except QueryError as exc:
            self.fail(str(exc), param, ctx)


class WhereType(click.ParamType):
    """A filter expression, parsed (never evaluated) at once so a bad one exits 2."""

    name = "EXPR"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse(value)
        except WhereError as exc:
            self.fail(str(exc), param, ctx)


WHEN = WhenType()
store_option = click.option("--store", "store_url", metavar="URL", default=None, help=STORE_HELP)
since_option = click.option(
    "--since", type=WHEN, help="Only from this time on: 2026-11-21, 2026-11-21T08:00, 30m, 2h, 7d."
)
until_option = click.option("--until", type=WHEN, help="Only before this time (same forms).")


def format_option(*choices: str) -> Any:
    return click.option(
        "--format",
        "output",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )


@click.group(
    cls=AgentelGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES,
)
@click.version_option(package_name="agentel")
def main() -> None:
    """agentel: OpenTelemetry for AI agents.

    Read back what instrumented agents recorded: every run, LLM call and tool call, with
    tokens, cost, latency and errors. Every command takes --store (default: $AGENTEL_STORE
    or sqlite:///agentel.db). Ids may be given as any unique prefix. Output is plain (no
    colour) when it is not a terminal; --format json gives stable snake_case fields.
    """


@main.command()
@store_option
@click.option("--agent", help="Only runs of this agent name.")
@click.option(
    "--status", type=click.Choice(["running", "ok", "error", "abandoned"]), help="Only this status."
)
@since_option
@until_option
@click.option(
    "--model",
    help="Only runs with a call that asked for or was answered by this model, or a dated "
    "snapshot of it (gpt-4o-mini matches gpt-4o-mini-2024-07-18, never gpt-4o); any case.",
)
@click.option("--provider", help="Only runs that called this provider (openai, anthropic...).")
@click.option("--tool", metavar="NAME", help="Only runs that called the tool of this name.")
@click.option("--conversation", help="Only runs of this conversation id.")
@click.option("--user", help="Only runs for this user id.")
@click.option("--service", help="Only runs of this service.name.")
@click.option("--min-cost", type=click.FloatRange(min=0), metavar="USD", help="Cost at least.")
@click.option("--min-duration", type=DurationType(), help="Duration at least: 1500, 500ms, 2s.")
@click.option(
    "--errors/--no-errors", "has_error", default=None, help="Only runs with / without a failure."
)
@click.option(
    "--text", help="Substring of captured prompts, completions, tool arguments or results."
)
@click.option(
    "--where",
    type=WhereType(),
    help="Filter expression, e.g. \"cost_usd > 0.01 and model == 'gpt-4o'\"; "
    "and, or, not, in, null, == != > >= < <=. Fields: " + FIELD_NAMES + " (model and "
    "models compare as --model does).",
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
def runs(store_url: str | None, output: str, **filters: Any) -> None:
    """List runs, newest first: agent, status, duration, LLM and tool calls, tokens, cost.

    All filters combine (and). Times are UTC.
    """
    with _open(store_url, existing=True, reader=True) as store:
        found = store.runs(**filters)
    if output == "json":
        _echo_json(found)
        return
    if not found:
        click.echo(f"no matching runs in {store_url or default_store_url()}")
        return
    fmt.print_runs(found, _console())


@main.command()
@click.argument("run_id", metavar="RUN")
@store_option
@format_option("table", "json")
def show(run_id: str, store_url: str | None, output: str) -> None:
    """Show one run as a span tree with duration, tokens, cost and errors on every node.

    RUN is a run id or any unique prefix of one.
    """
    with _open(store_url, existing=True, reader=True) as store:
        if output == "json":
            run = store.run(run_id)
            _echo_json({**run, "spans": store.run_tree(run["run_id"])})
        else:
            fmt.print_run(store, run_id, _console())


@main.command(short_help="Replay one run as a timeline of what happened, in order.")
@click.argument("run_id", metavar="RUN")
@store_option
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice(REPLAY_TYPES),
    help="Only entries of this type (repeatable).",
)
@since_option
@until_option
@format_option("text", "json", "jsonl")
def replay(
    run_id: str,
    store_url: str | None,
    types: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    output: str,
) -> None:
    """Replay one run as a timeline: what the user asked, each LLM request and response
    (tokens, cost, time to first token), tool calls and results, plans, state updates,
    errors and custom events, in order.

    Prompts, completions and tool arguments appear only when content capture was on
    (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT). RUN is a run id or unique prefix.
    """
    with _open(store_url, existing=True, reader=True) as store:
        entries = store.replay(run_id, types=types or None, since=since, until=until)
    if output == "json":
        _echo_json(entries)
    elif output == "jsonl":
        for entry in entries:
            click.echo(json.dumps(entry, ensure_ascii=False))
    else:
        console = _console()
        for line in fmt.replay_lines(entries):
            console.print(line, soft_wrap=True)


class Trouble(click.ClickException):
    """An error in a command whose exit status 1 means something else (``diff``): status 2."""

    exit_code = 2


@main.command(short_help="Compare two runs step by step; exit 1 when their behaviour differs.")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@store_option
@format_option("table", "json")
def diff(run_a: str, run_b: str, store_url: str | None, output: str) -> None:
    """Compare two runs: align their steps (LLM and tool calls) and show, per step, model,
    tokens, cost, latency, tool names and arguments and outputs, then the total deltas.

    Behaviour is the same when both runs made the same tool calls with the same arguments
    and got the same outputs; tokens, cost and latency may differ. Outputs and arguments are
    compared only when both runs captured content. RUN_A and RUN_B are run ids or unique
    prefixes; --format json prints what Store.diff() returns.

    \b
    Exit status: 0 same behaviour, 1 diverged, 2 error (unknown run, store unreadable).
    """
    try:
        with _open(store_url, existing=True, reader=True) as store:
            found = store.diff(run_a, run_b)
    except click.ClickException as exc:
        raise Trouble(exc.message) from exc
    except (NotFoundError, AmbiguousIdError, StoreError, QueryError, OSError) as exc:
        raise Trouble(str(exc)) from exc
    if output == "json":
        _echo_json(found)
    else:
        console = _console()
        for part in fmt.diff_view(found):
            console.print(part, soft_wrap=True)
    sys.exit(0 if found["same"] else 1)


@main.command(
    short_help="Re-run a command against a recorded run's LLM answers; record and compare.",
    context_settings={"ignore_unknown_options": True},
)
@click.argument("run_id", metavar="RUN")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND...")
@store_option
@click.option(
    "--strict/--loose",
    default=True,
    show_default=True,
    help="Stop at the first request no recorded call matches / serve the nearest and report.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port of the replay server [free]."
)
def rerun(
    run_id: str, command: tuple[str, ...], store_url: str | None, strict: bool, port: int
) -> None:
    """Run COMMAND with its LLM calls answered from the recording of RUN, deterministically.

    The run's LLM calls (recorded with content capture) are served by a local server in the
    wire format each request uses (OpenAI chat and Responses, Anthropic messages, Gemini,
    Bedrock), streamed when the request streams. COMMAND runs with OPENAI_BASE_URL,
    ANTHROPIC_BASE_URL, GOOGLE_GEMINI_BASE_URL and AWS_ENDPOINT_URL_BEDROCK_RUNTIME pointing
    at it (placeholder API keys when unset), AGENTEL_STORE set to the store and
    AGENTEL_RERUN_OF to RUN, so the new run is recorded and linked to RUN by
    agentel.rerun.of; content capture is switched on unless the environment says otherwise.
    Requests are matched by content: model, system instructions, messages, tools and the
    parameters that change the output; order breaks ties. A recorded redaction marker such
    as [REDACTED] matches any text. At the end the new run is compared with RUN (see
    agentel diff).

    \b
    Example:  agentel rerun 3f2a -- python my_agent.py "What's the weather in Paris?"
    \b
    Exit status: COMMAND's; 3 when --strict stopped it at a request no recorded call
    matches (the message names the call and the differing field); 2 when RUN cannot be
    re-run (recorded without content capture) or the store is memory://.
    """
    from agentel.cli._rerun import rerun as run_again
    from agentel.testing import CassetteError

    url = store_url or default_store_url()
    if url.startswith("memory:"):
        raise BadInput("agentel rerun needs a store the command can write to: not memory://")
    with _open(url, existing=True, reader=True) as store:
        try:
            status = run_again(store, url, run_id, command, strict=strict, port=port)
        except CassetteError as exc:
            raise BadInput(str(exc)) from exc
    sys.exit(status)


@main.group()
def cassette() -> None:
    """Recorded runs as self-contained files that tests replay offline."""


@cassette.command("export")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o", "--output", "path", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@store_option
@click.option(
    "--redact",
    "patterns",
    multiple=True,
    metavar="REGEX",
    help="Also replace matches of this regular expression by [REDACTED] (repeatable).",
)
def cassette_export(
    run_id: str, path: str, store_url: str | None, patterns: tuple[str, ...]
) -> None:
    """Write RUN's LLM calls (requests and answers) as a versioned JSON cassette.

    The file is self-contained (no store needed) and redacted: API keys, tokens and other
    well-known credential shapes (plus --redact patterns) become [REDACTED], which still
    matches when replayed. Replay it with agentel.testing.replay("FILE.json") or the
    agentel_replay pytest fixture. RUN must have been recorded with content capture.
    """
    import re

    from agentel.testing import Cassette, CassetteError
    from agentel.testing._cassette import secret_redactor

    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadInput(f"--redact {pattern!r} is not a regular expression: {exc}") from exc
    with _open(store_url, existing=True, reader=True) as store:
        try:
            found = Cassette.from_store(store, run_id)
        except CassetteError as exc:
            raise BadInput(str(exc)) from exc
    found.redacted(secret_redactor(patterns)).save(path)
    click.echo(f"wrote {path}: {len(found.calls)} LLM calls of run {found.run['run_id']}")


@main.command(short_help="Count, tokens, cost, latency and errors per model, tool, agent, day...")
@store_option
@click.option(
    "--by",
    type=click.Choice(STATS_BY),
    default="model",
    show_default=True,
    help="Group by model (the request model), response_model (the model that answered, "
    "e.g. a dated snapshot), provider or tool (spans), or agent, day or hour (runs).",
)
@since_option
@until_option
@format_option("table", "json", "csv")
def stats(
    store_url: str | None,
    by: str,
    since: datetime | None,
    until: datetime | None,
    output: str,
) -> None:
    """Totals per group: count, errors, tokens, cost, p50/p95 latency, with a bar chart of
    cost.

    model/response_model/provider: LLM and embedding calls whose usage counts towards runs
    (a framework span around a provider span counts once), by the model asked for or the
    model that answered (a call with no response model counts under the one asked for);
    tool: tool calls; agent/day/hour: runs, by
    their start (UTC). Percentiles are nearest-rank over finished items. Processes that
    dropped spans before they reached the store are listed after the table (on stderr for
    json and csv).
    """
    with _open(store_url, existing=True, reader=True) as store:
        rows = store.stats(by, since=since, until=until)
        drops = store.dropped_spans()
    if output == "json":
        _echo_json(rows)
    elif output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(fmt.STAT_FIELDS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif not rows:
        click.echo(f"nothing recorded in {store_url or default_store_url()} for these times")
    else:
        console = _console()
        console.print(fmt.stats_table(rows, by))
        console.print()
        console.print(fmt.cost_chart(rows, by, width=min(50, max(10, console.width - 40))))
    for line in drop_lines(drops):
        click.echo(line, err=output != "table")


@main.command(short_help="Check every run against its spans; --repair fixes what disagrees.")
@store_option
@click.option(
    "--repair",
    is_flag=True,
    help="Recompute the runs that disagree with their spans (and give spans of no run a run).",
)
@format_option("text", "json")
def doctor(store_url: str | None, repair: bool, output: str) -> None:
    """Check that every run's rollup (LLM and tool calls, tokens, cost, status, times, span
    count) agrees with its stored spans, and find spans whose run has no record, run records
    with no span and spans of no run. Spans that processes dropped before they reached the
    store are listed too: they are lost, and no repair brings them back.

    A writer killed between writing its spans and its run (MongoDB has no transaction
    around them) is finished automatically when a store is next opened or written to; doctor
    finds whatever is left and, with --repair, recomputes those runs from their spans, as
    ingest does. Without --repair it changes nothing itself. --format json prints what
    Store.doctor() returns.

    \b
    Exit status: 0 every run agrees with its spans (or was repaired), 1 problems remain,
    2 error (store unreachable or unreadable).
    """
    try:
        with _open(store_url, existing=True) as store:
            found = store.doctor(repair=repair)
    except click.ClickException as exc:
        raise Trouble(exc.message) from exc
    except (StoreError, OSError, sqlite3.Error) as exc:
        raise Trouble(str(exc)) from exc
    if output == "json":
        _echo_json(found)
        sys.exit(1 if found["remaining"] else 0)
    click.echo(f"checked {found['runs']} run(s) and {found['spans']} span(s) in {found['store']}")
    for problem in found["problems"]:
        click.echo(f"problem: {fmt.problem_line(problem)}")
    for line in drop_lines(found["dropped"]):
        click.echo(line)
    if not found["problems"]:
        click.echo("every run agrees with its spans")
    elif found["repaired"] and not found["remaining"]:
        runs = {p["run_id"] for p in found["problems"] if "run_id" in p}
        traces = {p["trace_id"] for p in found["problems"] if "trace_id" in p}
        click.echo(
            f"repaired {len(found['problems'])} problem(s): recomputed {len(runs)} run(s) "
            "from their spans"
            + (f" and assigned the spans of {len(traces)} trace(s) to runs" if traces else "")
        )
    elif found["repaired"]:
        for problem in found["remaining"]:
            click.echo(f"still: {fmt.problem_line(problem)}")
        click.echo(f"{len(found['remaining'])} problem(s) remain after the repair")
    else:
        click.echo(
            f"{len(found['problems'])} problem(s) found: run `agentel doctor --repair` to "
            "recompute these runs from their spans"
        )
    sys.exit(1 if found["remaining"] else 0)


def drop_lines(drops: list[dict[str, Any]]) -> list[str]:
    """One warning per process that lost spans before they reached the store, and one note
    per process whose live-run queue overflowed (its runs were recorded from their spans)."""
    lines = []
    for d in drops:
        where = f"in process {d['pid']} on {d['host']}" + (
            f" ({d['service_name']})" if d["service_name"] else ""
        )
        if d["dropped"]:
            lines.append(
                f"warning: {d['dropped']} span(s) dropped {where}, last at {d['last_at']}: "
                "its runs may be incomplete"
            )
        if d.get("live_runs"):
            lines.append(
                f"note: {d['live_runs']} live-run record(s) dropped {where}: those runs showed "
                "as running only once their first spans were written"
            )
    return lines


def _resolve_export(store: Store, run: str | None, trace: str | None) -> dict[str, str]:
    found = {}
    if run is not None:
        found["run_id"] = store.run(run)["run_id"]
    if trace is not None:
        found["trace_id"] = store.resolve_trace_id(trace)
    return found


@main.command(short_help="Write spans as JSON lines or as OTLP/JSON for any collector.")
@store_option
@format_option("jsonl", "otlp")
@click.option(
    "--output",
    "-o",
    "target",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="File to write (default: stdout).",
)
@click.option("--run", "run", metavar="RUN", help="Only the spans of this run (id or prefix).")
@click.option("--trace", metavar="TRACE", help="Only the spans of this trace (id or prefix).")
@since_option
@until_option
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="otlp: spans per line (one ExportTraceServiceRequest each).",
)
def export(
    store_url: str | None,
    output: str,
    target: IO[str],
    run: str | None,
    trace: str | None,
    since: datetime | None,
    until: datetime | None,
    batch: int,
) -> None:
    """Write spans as JSON lines (one span record per line, the fields of `show --format
    json`) or as OTLP/JSON (one ExportTraceServiceRequest per line, as the OpenTelemetry
    Collector's file exporter writes: an otlpjsonfile receiver or `agentel import` reads it).
    """
    from agentel.store.otlp_json import encode

    written = 0
    with (
        _open(store_url, existing=True, reader=True) as store,
        _progress("exporting spans") as advance,
    ):
        records = store.export(since=since, until=until, **_resolve_export(store, run, trace))
        chunk = []
        for record in records:
            if output == "jsonl":
                target.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                written += 1
                advance(1)
                continue
            chunk.append(record)
            if len(chunk) >= batch:
                target.write(json.dumps(encode(chunk), ensure_ascii=False) + "\n")
                written += len(chunk)
                advance(len(chunk))
                chunk = []
        if chunk:
            target.write(json.dumps(encode(chunk), ensure_ascii=False) + "\n")
            written += len(chunk)
            advance(len(chunk))
        target.flush()
    name = getattr(target, "name", "-")
    click.echo(
        f"exported {written} span(s) to {'stdout' if name in ('-', '<stdout>') else name}", err=True
    )


MAX_REPORTED_LINES = 50


def _loads(text: str) -> Any:
    """``json.loads``, with nesting past Python's limit reported as a ``ValueError``."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _documents(
    stream: IO[str], advance: Callable[[int], None]
) -> Iterator[tuple[int, Any | ValueError]]:
    """``(line number, document or error)`` for each OTLP/JSON document in a file.

    A file is JSON lines (one request per line) or one document over many lines. A first
    line that is not JSON starts a whole-file document; when the whole file is not JSON
    either, it is JSON lines whose first line is bad.
    """
    first = stream.readline()
    advance(len(first.encode("utf-8", "surrogateescape")))
    lines: Iterator[str] = stream
    try:
        if first.strip():
            yield 1, _loads(first)
    except ValueError as first_error:
        rest = stream.read()
        advance(len(rest.encode("utf-8", "surrogateescape")))
        try:
            yield 1, _loads(first + rest)
            return
        except ValueError:
            yield 1, first_error
            lines = iter(rest.splitlines(keepends=True))
    for number, line in enumerate(lines, start=2):
        if lines is stream:
            advance(len(line.encode("utf-8", "surrogateescape")))
        if not line.strip():
            continue
        try:
            yield number, _loads(line)
        except ValueError as exc:
            yield number, exc


class _LazyStore:
    """A store opened on the first write, so a command that writes nothing creates nothing.

    A SQLite file this command created is removed again when the command fails before
    anything was stored in it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: Store | None = None
        self._created: str | None = None
        self._stored = False

    def ingest(self, records: list[Any]) -> None:
        if self._store is None:
            path = sqlite_path(self.url) if self.url.startswith("sqlite:") else None
            fresh = path is not None and path != ":memory:" and not os.path.exists(path)
            self._store = _open(self.url)
            self.url = self._store.url
            self._created = path if fresh else None
        self._store.ingest(records)
        self._stored = True

    def __enter__(self) -> _LazyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._store is None:
            return
        self._store.close()
        if self._created is not None and not self._stored:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._created + suffix)


@main.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@click.option(
    "--store", "store_url", metavar="URL", default=None, help="Store to write into. " + STORE_HELP
)
def import_(file: IO[str], store_url: str | None) -> None:
    """Load OTLP/JSON traces from FILE ('-' for stdin) into the store.

    FILE holds one ExportTraceServiceRequest document, or JSON lines of them as the
    OpenTelemetry Collector's file exporter writes (and `agentel export --format otlp`).
    Spans get the same normalization, run rollups and cost as spans from agentel's own
    exporters; importing the same file twice changes nothing. Every valid span is stored;
    each bad line (not JSON, nested too deeply, not OTLP) and each malformed span is
    reported with its line number, and the exit status is then 2. Text that is not valid
    UTF-8 is repaired (U+FFFD), as in every stored span.
    """
    from agentel.store.otlp_json import decode

    size = os.fstat(file.fileno()).st_size if file.name != "<stdin>" else None
    imported, rejected, bad_lines, problems = 0, 0, 0, []
    pending: list[Any] = []
    url = store_url or default_store_url()
    with _LazyStore(url) as store, _progress(f"importing {file.name}", size) as advance:
        for number, document in _documents(file, advance):
            if isinstance(document, ValueError):
                errors = [f"not JSON: {document}"]
            elif not isinstance(document, dict) or "resourceSpans" not in document:
                errors = ["not OTLP/JSON: no resourceSpans"]
            else:
                records, errors = decode(document)
                rejected += len(errors)
                pending += records
            if errors:
                bad_lines += 1
                problems += [f"line {number}: {error}" for error in errors]
            if len(pending) >= 5000:
                store.ingest(pending)
                imported += len(pending)
                pending = []
        if pending:
            store.ingest(pending)
            imported += len(pending)
    click.echo(
        f"imported {imported} span(s) into {store.url}, rejected {rejected}"
        + (f"; {bad_lines} bad line(s)" if bad_lines else "")
    )
    for problem in problems[:MAX_REPORTED_LINES]:
        click.echo(f"  {file.name} {problem}", err=True)
    if len(problems) > MAX_REPORTED_LINES:
        click.echo(f"  ... and {len(problems) - MAX_REPORTED_LINES} more", err=True)
    if bad_lines:
        sys.exit(2)


@main.command()
@store_option
@click.option(
    "--older-than",
    type=WHEN,
    required=True,
    help="Delete runs that started before this: an age (30d, 12h) or a date.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def prune(store_url: str | None, older_than: datetime, dry_run: bool, yes: bool) -> None:
    """Delete old runs with their spans and feedback.

    Shows how many runs would go and asks first, unless --yes. Without a terminal to ask
    on, it refuses (exit status 2) unless --yes is given.
    """
    cutoff = older_than.isoformat(timespec="seconds").replace("+00:00", "Z")
    with _open(store_url, existing=True) as store:
        count = store.prune(older_than, dry_run=True)
        what = f"{count} run(s) started before {cutoff} in {store.url}"
        if dry_run:
            click.echo(f"would delete {what}, with their spans and feedback")
            return
        if count == 0:
            click.echo(f"nothing to prune: no run started before {cutoff}")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput(
                    f"refusing to delete {what} without confirmation: pass --yes "
                    "(or run it in a terminal to be asked)"
                )
            click.confirm(f"Delete {what}, with their spans and feedback?", abort=True)
        with _progress("pruning runs", count) as advance:
            deleted = store.prune(older_than, progress=advance)
    click.echo(f"deleted {deleted} run(s) started before {cutoff}")


@main.command()
@click.argument("run_id", metavar="RUN")
@click.argument("score", type=float)
@click.option("--label", help="A label for the score, e.g. thumbs_up.")
@click.option("--comment", help="A free-form comment.")
@store_option
@format_option("text", "json")
def feedback(
    run_id: str,
    score: float,
    label: str | None,
    comment: str | None,
    store_url: str | None,
    output: str,
) -> None:
    """Record a feedback SCORE for a run.

    SCORE is a number such as 1 or 0.25; the run's feedback becomes this latest score. RUN is
    a run id or unique prefix.
    """
    with _open(store_url, existing=True) as store:
        try:
            entry = store.add_feedback(run_id, score, comment, label=label)
        except ValueError as exc:  # a score that is not a finite number
            raise BadInput(str(exc)) from exc
    if output == "json":
        _echo_json(entry)
    else:
        click.echo(f"feedback {entry['score']:g} recorded for run {entry['run_id']}")


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
    help="Reject larger request bodies (HTTP 413, before the body is read).",
)
@click.option(
    "--max-inflight-mb",
    type=click.FloatRange(min=0.001),
    default=None,
    help="Request bytes held at once across all clients; beyond it HTTP 503 with "
    "Retry-After [default: 4 x --max-body-mb].",
)
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a client may stay silent while sending a body (HTTP 408), or idle.",
)
def receive(
    store_url: str,
    host: str,
    port: int,
    token: str | None,
    max_body_mb: float,
    max_inflight_mb: float | None,
    read_timeout: float,
) -> None:
    """Receive OTLP/HTTP traces (POST /v1/traces, protobuf or JSON, gzip) into a store.

    Point an OpenTelemetry Collector's otlphttp exporter, or any OTLP SDK
    (OTEL_EXPORTER_OTLP_ENDPOINT=http://HOST:PORT), at it. Spans get the same normalization,
    run rollups and cost as spans from agentel's own exporters; malformed spans are rejected
    one by one (partial_success) and the valid ones stored. Binds to localhost unless
    --host says otherwise. Stops on Ctrl-C. Needs the receiver extra:
    pip install 'agentel[receiver]'.
    """
    try:
        from agentel.sdk.receiver import OTLPReceiver
    except ImportError as exc:
        raise click.ClickException(
            f"agentel receive needs Starlette and uvicorn ({exc}): pip install 'agentel[receiver]'"
        ) from exc

    mb = 1024 * 1024
    store = _open(store_url)
    try:
        receiver = OTLPReceiver(
            store,
            host,
            port,
            token=token,
            max_body_bytes=int(max_body_mb * mb),
            max_inflight_bytes=int(max_inflight_mb * mb) if max_inflight_mb else None,
            read_timeout=read_timeout,
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


main.add_command(ui)


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
