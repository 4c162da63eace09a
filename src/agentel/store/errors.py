"""Errors the store API raises; each message names the bad value."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of store errors."""


class StoreURLError(StoreError, ValueError):
    """The store URL cannot be understood."""


class QueryError(StoreError, ValueError):
    """A query argument (time, duration, filter value, grouping) is not valid."""


class NotFoundError(StoreError, LookupError):
    """No run or trace matches the given id or prefix."""


class AmbiguousIdError(StoreError, LookupError):
    """An id prefix matches more than one run; ``candidates`` lists them."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else "")
        super().__init__(f"id prefix {prefix!r} is ambiguous; it matches: {shown}")


def redact_url(url: str) -> str:
    """A store URL fit for logs and errors: any ``user:password@`` becomes ``***@``."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    return scheme + sep + host + slash + path
