"""Is the process that was running a run still there? Decides ``running`` vs ``abandoned``.

A run whose top span has started but not ended is ``running``. Its live record names the
``pid`` and ``host`` running it; when that host is this machine and no process with that pid
(started before the run) exists any more, nobody can finish the run: it is ``abandoned``.
A running run whose newest span (start or end) is older than ``AGENTEL_ABANDON_AFTER``
(default 1 h) is abandoned too, on any host and whether or not its pid is known: a run
whose live record was lost, or whose host no store here can look at, cannot stay
``running`` forever.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import time
from typing import TYPE_CHECKING

from agentel.semconv.attributes import ENV_ABANDON_AFTER

if TYPE_CHECKING:  # kept light: the CLI's ui command checks settings before loading a store
    from agentel.store.records import RunRecord

ABANDONED = "abandoned"
RUNNING = "running"
DEFAULT_ABANDON_AFTER_S = 3600.0

logger = logging.getLogger("agentel.store")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@functools.lru_cache(maxsize=8)
def parse_abandon_after(value: str | None) -> float:
    """Seconds of an ``AGENTEL_ABANDON_AFTER`` value (unset or empty: the 1 h default).

    Accepts seconds (``3600``, ``0.5``) or a number with a unit: ``90s``, ``30m``, ``2h``,
    ``1d``. Anything else, or zero, raises ``ValueError`` naming the variable and the value.
    """
    if value is None or not value.strip():
        return DEFAULT_ABANDON_AFTER_S
    found = _DURATION.match(value)
    seconds = float(found.group(1)) * _UNIT_S[found.group(2)] if found else 0.0
    if seconds <= 0:
        raise ValueError(
            f"{ENV_ABANDON_AFTER} must be a positive duration such as 3600, 90s, 30m, 2h or "
            f"1d; got {value!r}"
        )
    return seconds


def abandon_after() -> float:
    """``AGENTEL_ABANDON_AFTER`` in seconds; raises ``ValueError`` for a bad value (the CLI
    reports it as an error)."""
    return parse_abandon_after(os.environ.get(ENV_ABANDON_AFTER))


@functools.lru_cache(maxsize=8)
def _warn_bad(value: str, error: str) -> None:
    logger.warning("agentel: %s; using the default of 1 h", error)


def stale_cutoff_ns(now_ns: int | None = None) -> int:
    """Runs whose newest span is older than this (ns since the epoch) are abandoned.

    Stores use it on every write and open, inside the application too, so a bad
    ``AGENTEL_ABANDON_AFTER`` never raises here: it is logged once and the default is used.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    try:
        seconds = abandon_after()
    except ValueError as exc:
        _warn_bad(os.environ.get(ENV_ABANDON_AFTER, ""), str(exc))
        seconds = DEFAULT_ABANDON_AFTER_S
    return now_ns - int(seconds * 1e9)


_START_TOLERANCE_S = 2.0  # /proc/stat's boot time has a one-second resolution


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    """The host name the live-run processor records (``socket.gethostname()``)."""
    return socket.gethostname()


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    """(state, start time in seconds since the epoch) of process ``pid`` from /proc, or None
    where /proc does not tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/stat", encoding="ascii") as proc:
            boot = next(float(line.split()[1]) for line in proc if line.startswith("btime "))
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def process_alive(pid: int, since_ns: int | None = None) -> bool:
    """Whether process ``pid`` runs on this host: it exists, is not a zombie (killed, not yet
    reaped) and, when ``since_ns`` is given and /proc knows, started before then (a recycled
    pid belongs to someone else)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by another user
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state == "Z":
        return False
    return since_ns is None or started is None or started <= since_ns / 1e9 + _START_TOLERANCE_S


def is_abandoned(status: str, pid: int | None, host: str | None, start_ns: int | None) -> bool:
    """A ``running`` run on this host whose recorded process is gone."""
    return (
        status == RUNNING
        and pid is not None
        and host == this_host()
        and not process_alive(pid, start_ns)
    )


def settle(run: RunRecord, last_ns: int | None = None) -> RunRecord:
    """Mark ``run`` abandoned when its process is gone, or when its newest span (``last_ns``)
    is older than ``AGENTEL_ABANDON_AFTER`` (used when a run is recomputed)."""
    if run.status == RUNNING and (
        is_abandoned(run.status, run.pid, run.host, run.start_ns)
        or (last_ns is not None and last_ns < stale_cutoff_ns())
    ):
        run.status = ABANDONED
    return run
