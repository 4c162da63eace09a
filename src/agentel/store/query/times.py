"""Query arguments: times (datetimes, ISO strings, ages), durations and checked scalars."""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from agentel.store.errors import QueryError

_AGE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|h|d|w)\s*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION_MS = {"ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
TIME_HELP = (
    "a datetime, an ISO date/time such as 2026-11-21 or 2026-11-21T08:00, "
    "or an age such as 30m, 2h, 7d, 2w"
)


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def parse_time(value: datetime | date | timedelta | str | None, what: str = "since") -> int | None:
    """Nanoseconds since the epoch for a filter bound; None stays None.

    Accepts a datetime (naive means UTC), a date (midnight UTC), a timedelta or an age string
    (``30m``, ``2h``, ``7d``, ``2w``: that long before now) or an ISO-8601 date/time string.
    Anything else raises :class:`QueryError` naming ``what`` and the bad value.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _ns(value)
    if isinstance(value, date):
        return _ns(datetime(value.year, value.month, value.day, tzinfo=timezone.utc))
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise QueryError(f"{what}: an age must not be negative; got {value!r}")
        return _ns(datetime.now(timezone.utc) - value)
    if isinstance(value, str):
        age = _AGE.match(value)
        if age:
            seconds = float(age.group(1)) * _AGE_UNITS[age.group(2)]
            return _ns(datetime.now(timezone.utc) - timedelta(seconds=seconds))
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _ns(datetime.fromisoformat(text))
        except ValueError:
            pass
    raise QueryError(f"{what}: {value!r} is not a time; use {TIME_HELP}")


def parse_duration_ms(
    value: float | timedelta | str | None, what: str = "min_duration"
) -> float | None:
    """Milliseconds for a duration bound: a number (ms), a timedelta, or ``500ms`` / ``2s`` /
    ``1.5m`` / ``1h``. Anything else (or a negative value) raises :class:`QueryError`."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        ms = value.total_seconds() * 1e3
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ms = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        ms = float(found.group(1)) * _DURATION_MS[found.group(2) or "ms"]
    else:
        raise QueryError(
            f"{what}: {value!r} is not a duration; use milliseconds or 500ms, 2s, 1.5m, 1h"
        )
    if not math.isfinite(ms) or ms < 0:
        raise QueryError(f"{what} must be a finite, non-negative duration; got {value!r}")
    return ms


def check_number(value: Any, what: str) -> float | None:
    """``value`` as a float, or None; a QueryError unless it is a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise QueryError(f"{what} must be a finite number; got {value!r}")
    return float(value)


def check_text(value: Any, what: str) -> str | None:
    """``value`` unchanged, or None; a QueryError unless it is a string."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise QueryError(f"{what} must be a string; got {value!r}")
    return value
