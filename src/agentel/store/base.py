"""The contract every store backend implements, and helpers shared by all of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from agentel.store.records import SpanRecord

ORDER_BY = ("start", "cost", "duration", "tokens")


def nest(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest span dicts under their parents' ``children``; spans whose parent is absent are roots.

    Children are ordered by start time. Cycles in foreign data cannot recurse: every span is
    placed exactly once, and a span whose parent chain loops is treated as a root.
    """
    by_id = {s["span_id"]: {**s, "children": []} for s in spans}
    roots: list[dict[str, Any]] = []
    for span in sorted(by_id.values(), key=lambda s: (s["start_time"] or "", s["span_id"])):
        parent = by_id.get(span["parent_span_id"] or "")
        if parent is None or _loops(span, by_id):
            roots.append(span)
        else:
            parent["children"].append(span)
    return roots


def _loops(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> bool:
    seen = {span["span_id"]}
    current = by_id.get(span["parent_span_id"] or "")
    while current is not None:
        if current["span_id"] in seen:
            return True
        seen.add(current["span_id"])
        current = by_id.get(current["parent_span_id"] or "")
    return False


class Store(ABC):
    """A run and trace store. Query methods return plain dicts with DESIGN.md's field names."""

    url: str

    @abstractmethod
    def ingest(self, records: Sequence[SpanRecord]) -> None:
        """Store spans idempotently per (trace_id, span_id) and recompute the touched runs."""

    @abstractmethod
    def runs(
        self,
        *,
        agent: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
        order_by: str = "start",
    ) -> list[dict[str, Any]]:
        """Runs, newest first (or by ``order_by`` descending)."""

    @abstractmethod
    def run(self, run_id: str) -> dict[str, Any]:
        """One run by id or unique id prefix; raises NotFoundError / AmbiguousIdError."""

    @abstractmethod
    def spans(
        self, *, trace_id: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Flat span dicts, ordered by start time."""

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of a trace, nested under ``children`` (a list of roots)."""
        return nest(self.spans(trace_id=self.resolve_trace_id(trace_id)))

    def run_tree(self, run_id: str) -> list[dict[str, Any]]:
        """The spans of one run, nested under ``children``."""
        return nest(self.spans(run_id=self.run(run_id)["run_id"]))

    @abstractmethod
    def resolve_trace_id(self, trace_id: str) -> str:
        """The full trace id for an id or unique prefix."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; idempotent."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_order_by(order_by: str) -> str:
    """Validate an ``order_by`` value, naming the bad one."""
    if order_by not in ORDER_BY:
        raise ValueError(f"order_by must be one of {', '.join(ORDER_BY)}; got {order_by!r}")
    return order_by


def check_prefix(value: str, what: str) -> str:
    """Ids are lowercase hex; anything else cannot match and is rejected with its value."""
    cleaned = value.strip().lower()
    if not cleaned or any(c not in "0123456789abcdef" for c in cleaned):
        from agentel.store.errors import NotFoundError

        raise NotFoundError(f"{what} {value!r} is not a hex id or id prefix")
    return cleaned
