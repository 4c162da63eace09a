"""``MongoSpanExporter``: spans into a MongoDB run and trace store."""

from __future__ import annotations

from typing import Any

from agentel.exporters._base import StoreSpanExporter
from agentel.store import Store
from agentel.store.mongodb import DEFAULT_SOCKET_TIMEOUT_MS, MongoStore, ttl_days_from_env

DEFAULT_MONGODB_STORE = "mongodb://localhost:27017/agentel"


class MongoSpanExporter(StoreSpanExporter):
    """Write spans to ``mongodb://host:port/db``.

    Every argument is optional: ``store`` falls back to ``AGENTEL_STORE`` (then
    ``mongodb://localhost:27017/agentel``), ``ttl_days`` to ``AGENTEL_MONGODB_TTL_DAYS`` (no
    TTL when unset). Registered as the ``agentel_mongodb`` traces exporter, so
    ``OTEL_TRACES_EXPORTER=agentel_mongodb opentelemetry-instrument python app.py`` works.
    ``server_selection_timeout_ms`` (default 3 s) bounds finding the server and
    ``socket_timeout_ms`` (default 10 s) any one read or write, so a hung server costs the
    background writer at most that long per attempt. While MongoDB is unreachable, batches
    wait in a bounded retry buffer (see :class:`StoreSpanExporter`); other keyword arguments
    go to it. pymongo is imported only when the first batch is written.
    """

    scheme = "mongodb"
    default_url = DEFAULT_MONGODB_STORE

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        ttl_days: float | None = None,
        server_selection_timeout_ms: int | None = None,
        socket_timeout_ms: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(store, **kwargs)
        self.ttl_days = ttl_days
        self.server_selection_timeout_ms = server_selection_timeout_ms or 3_000
        self.socket_timeout_ms = socket_timeout_ms or DEFAULT_SOCKET_TIMEOUT_MS

    def _open(self) -> Store:
        return MongoStore(
            self.url,
            ttl_days=self.ttl_days if self.ttl_days is not None else ttl_days_from_env(),
            server_selection_timeout_ms=self.server_selection_timeout_ms,
            socket_timeout_ms=self.socket_timeout_ms,
        )

    def _retryable(self, exc: BaseException) -> bool:
        """Connection trouble and timeouts are retried; a rejected document is not."""
        from pymongo.errors import ConnectionFailure, ExecutionTimeout, WriteConcernError

        retry = (ConnectionFailure, ExecutionTimeout, WriteConcernError)
        return isinstance(exc, retry) or super()._retryable(exc)
