"""``SQLiteSpanExporter``: spans into a local SQLite run and trace store."""

from __future__ import annotations

from typing import Any

from agentel.exporters._base import StoreSpanExporter
from agentel.semconv.attributes import DEFAULT_STORE
from agentel.store import Store


class SQLiteSpanExporter(StoreSpanExporter):
    """Write spans to ``sqlite:///...`` (default: ``AGENTEL_STORE`` or ``sqlite:///agentel.db``).

    Registered as the ``agentel_sqlite`` traces exporter, so
    ``OTEL_TRACES_EXPORTER=agentel_sqlite opentelemetry-instrument python app.py`` works.
    A plain file path is accepted too. A locked, full or read-only file is retried from a
    bounded buffer (see :class:`StoreSpanExporter`, which takes the keyword arguments).
    """

    scheme = "sqlite:"
    default_url = DEFAULT_STORE

    def __init__(self, store: str | Store | None = None, **kwargs: Any) -> None:
        if isinstance(store, str) and "://" not in store:
            store = f"sqlite:///{store}"
        super().__init__(store, **kwargs)
