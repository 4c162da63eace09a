"""The ``agentel ui`` command, kept apart from the query commands so that it starts without
loading them (rich, the store's query layer): ``agentel.cli.entry`` runs it directly."""

from __future__ import annotations

import importlib.util
import sqlite3

import click

from agentel.store import StoreError, StoreURLError, default_store_url, store_kind
from agentel.store.errors import redact_url
from agentel.store.liveness import abandon_after

STORE_HELP = "Store URL: sqlite:///file.db, mongodb://host:port/db or memory:// [env AGENTEL_STORE]"


class UIUsageError(click.ClickException):
    """Bad input that is not a command-line syntax error: exit status 2, as for every command."""

    exit_code = 2


@click.command()
@click.option("--store", "store_url", metavar="URL", default=None, help=STORE_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=6007, show_default=True)
@click.option(
    "--open/--no-open", "open_browser", default=False, help="Open the UI in a web browser."
)
@click.option(
    "--token",
    envvar="AGENTEL_UI_TOKEN",
    help="Require this token on every page, API call and OTLP request [env AGENTEL_UI_TOKEN]. "
    "Needed for any --host but a loopback one.",
)
def ui(store_url: str | None, host: str, port: int, open_browser: bool, token: str | None) -> None:
    """Serve a local web UI over the store: runs, run waterfalls, compare, conversations,
    stats and feedback, with its JSON API under /api/. It also receives OTLP/HTTP traces on
    /v1/traces into the store, like `agentel receive`: point any OpenTelemetry SDK at it.

    Needs the ui extra (pip install 'agentel[ui]'). Binds to 127.0.0.1 unless --host says
    otherwise; any other host requires --token. Prints the URL to open; stops on Ctrl-C.
    """
    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise click.ClickException(
            f"agentel ui needs the ui extra: pip install 'agentel[ui]' (no {', '.join(missing)})"
        )
    from agentel.ui import UIConfig, serve
    from agentel.ui.server import UIError

    url = store_url or default_store_url()
    try:
        store_kind(url)
        abandon_after()  # a bad AGENTEL_ABANDON_AFTER is an error naming it, before serving
        serve(
            UIConfig(store_url=url, token=token or None, receiver=True),
            host,
            port,
            open_browser=open_browser,
            announce=lambda address: click.echo(
                f"agentel ui: {address} -> {redact_url(url)} (Ctrl-C to stop)", err=True
            ),
        )
    except (UIError, StoreURLError, ValueError) as exc:
        raise UIUsageError(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    except (sqlite3.Error, OSError) as exc:
        raise click.ClickException(f"cannot open the store {redact_url(url)}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("pymongo", "bson"):
            raise click.ClickException(f"MongoDB error: {exc}") from exc
        raise
