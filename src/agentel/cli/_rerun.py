"""``agentel rerun``: run a command against a recorded run's answers, record the new run, compare."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from datetime import datetime, timezone

import click

from agentel.semconv.attributes import (
    AGENTEL_RERUN_OF,
    ENV_CAPTURE_CONTENT,
    ENV_RERUN_OF,
    ENV_STORE,
)
from agentel.store import Store
from agentel.testing._cassette import Cassette
from agentel.testing._replay import Matcher, ReplayServer, replay_environment

STOPPED = 3
"""Exit status when ``--strict`` stopped the command at a request no recorded call matches."""

GRACE_SECONDS = 5.0
"""How long a command stopped by --strict gets to exit on its own, and then after SIGTERM
before it is killed."""


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _new_runs(store: Store, recorded: str, since: datetime) -> list[str]:
    """Runs started since ``since`` whose top span says they re-run ``recorded``."""
    found = []
    for run in store.runs(since=since, limit=None):
        roots = store.run_tree(run["run_id"])
        if any(root["attributes"].get(AGENTEL_RERUN_OF) == recorded for root in roots):
            found.append(run["run_id"])
    return list(reversed(found))


def rerun(
    store: Store, store_url: str, run_id: str, command: Sequence[str], *, strict: bool, port: int
) -> int:
    """Serve ``run_id``'s recorded answers, run ``command`` against them, report; exit status."""
    cassette = Cassette.from_store(store, run_id)
    recorded = cassette.run["run_id"]
    matcher = Matcher(cassette, strict=strict)
    since = datetime.now(timezone.utc)
    with ReplayServer(matcher, port=port) as server:
        env = {**os.environ, **replay_environment(server)}
        env[ENV_STORE] = store_url
        env[ENV_RERUN_OF] = recorded
        env.setdefault(ENV_CAPTURE_CONTENT, "true")
        click.echo(
            f"agentel rerun: serving {len(cassette.calls)} recorded LLM calls of run {recorded} "
            f"on {server.url}",
            err=True,
        )
        try:
            process = subprocess.Popen(list(command), env=env)
        except OSError as exc:
            raise click.ClickException(f"cannot run {command[0]!r}: {exc}") from exc
        stopped_at: float | None = None
        try:
            while process.poll() is None:
                if strict and matcher.failure is not None:
                    # the agent got an error: let it exit (and flush its spans) on its own first
                    stopped_at = stopped_at or time.monotonic()
                    if time.monotonic() - stopped_at > GRACE_SECONDS:
                        _stop(process)
                        break
                time.sleep(0.05)
        except KeyboardInterrupt:
            _stop(process)
            raise
    status = process.returncode
    served = len(matcher.served)
    click.echo(f"agentel rerun: served {served} of {len(cassette.calls)} recorded calls", err=True)
    if matcher.failure is not None and strict:
        click.echo(f"agentel rerun: stopped (--strict): {matcher.failure.message()}", err=True)
    elif matcher.divergences or matcher.unserved:
        click.echo("agentel rerun: divergences (--loose):", err=True)
        for line in matcher.report():
            click.echo(f"  {line}", err=True)
    for new in _new_runs(store, recorded, since):
        verdict = "same behaviour" if store.diff(recorded, new)["same"] else "diverged"
        click.echo(
            f"agentel rerun: new run {new} ({verdict}); compare: agentel diff {recorded} {new}"
            + ("" if store_url == os.environ.get(ENV_STORE) else f" --store {store_url}"),
            err=True,
        )
    if strict and matcher.failure is not None:
        return STOPPED
    return status if status >= 0 else 128 - status
