"""Is the process that was running a run still there? Decides ``running`` vs ``abandoned``.

A run whose top span has started but not ended is ``running``. Its live record names the
``pid`` and ``host`` running it; when that host is this machine and no process with that pid
(started before the run) exists any more, nobody can finish the run: it is ``abandoned``.
Runs recorded on other hosts stay ``running`` until a store opened on their own host looks.
"""

from __future__ import annotations

import functools
import os
import socket

from agentel.store.records import RunRecord

ABANDONED = "abandoned"
RUNNING = "running"

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


def settle(run: RunRecord) -> RunRecord:
    """Mark ``run`` abandoned when its process is gone (used when a run is recomputed)."""
    if is_abandoned(run.status, run.pid, run.host, run.start_ns):
        run.status = ABANDONED
    return run
