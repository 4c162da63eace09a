"""agentel's run and trace stores: records, backends and the query API.

``open_store(url)`` returns a :class:`Store` for ``sqlite:///relative.db``,
``sqlite:////abs/path.db``, ``mongodb://host:port/db`` or ``memory://``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from agentel.semconv.attributes import DEFAULT_STORE, ENV_STORE
from agentel.store.errors import (
    AmbiguousIdError,
    NotFoundError,
    QueryError,
    StoreError,
    StoreURLError,
)

if TYPE_CHECKING:
    from agentel.store.base import Store
    from agentel.store.records import RunRecord, SpanRecord, build_span_record

_LAZY = {
    "Store": "agentel.store.base",
    "RunRecord": "agentel.store.records",
    "SpanRecord": "agentel.store.records",
    "build_span_record": "agentel.store.records",
}


def __getattr__(name: str) -> Any:
    """The store classes and records, imported when first asked for: ``agentel ui`` and the
    URL helpers below start without the query layer."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AmbiguousIdError",
    "NotFoundError",
    "QueryError",
    "RunRecord",
    "SpanRecord",
    "Store",
    "StoreError",
    "StoreURLError",
    "build_span_record",
    "default_store_url",
    "open_store",
    "sqlite_path",
    "store_kind",
]


def default_store_url() -> str:
    """``AGENTEL_STORE`` if set, else ``sqlite:///agentel.db``."""
    return os.environ.get(ENV_STORE) or DEFAULT_STORE


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///`` URL (three slashes: relative, four: absolute)."""
    if not url.startswith("sqlite:///"):
        raise StoreURLError(f"not a sqlite URL: {url!r} (expected sqlite:///path.db)")
    path = url[len("sqlite:///") :]
    if not path:
        raise StoreURLError(f"sqlite URL {url!r} names no file (expected sqlite:///path.db)")
    return path


def store_kind(url: str) -> str:
    """The backend a store URL names: ``sqlite``, ``mongodb`` or ``memory``.

    The one place store URLs are told apart; ``open_store`` and ``configure()`` (which picks
    the ``agentel_<kind>`` traces exporter) both ask here.
    """
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return "mongodb"
    if url.rstrip("/") == "memory:":
        return "memory"
    raise StoreURLError(
        f"unsupported store URL {url!r}: use sqlite:///file.db, mongodb://host:port/db or memory://"
    )


def open_store(url: str | None = None, *, read_only: bool = False) -> Store:
    """Open the store named by ``url`` (default: ``AGENTEL_STORE`` or ``sqlite:///agentel.db``).

    ``memory://`` is a new, empty in-process store on every call; ``mongodb://`` needs the
    ``mongodb`` extra (pymongo) and fails within a few seconds when the server is unreachable.
    ``read_only=True`` is for readers: a SQLite file is opened ``mode=ro`` (``immutable``
    in a directory it cannot write), so nothing is ever created or written (no schema, no
    migration, no ``abandoned`` marks); a missing, empty, foreign or older file raises
    ``StoreError``. MongoDB and memory stores ignore it.
    """
    url = url or default_store_url()
    kind = store_kind(url)
    if kind == "sqlite":
        from agentel.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), read_only=read_only)
    if kind == "mongodb":
        from agentel.store.mongodb import MongoStore

        return MongoStore(url)
    from agentel.store.memory import MemoryStore

    return MemoryStore()
