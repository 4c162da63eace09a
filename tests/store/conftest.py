"""Store fixtures: every contract test runs on memory, SQLite and MongoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agentel.store import Store, open_store
from agentel.store.memory import MemoryStore

BACKENDS = ("memory", "sqlite", "mongodb")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def open_backend(backend: str, request, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens another instance of this test's store (memory: the same in-process store)."""
    opened: list[Store] = []
    if backend == "memory":
        shared = MemoryStore()

        def factory() -> Store:
            return shared

    else:
        url = (
            f"sqlite:///{tmp_path / 'store.db'}"
            if backend == "sqlite"
            else request.getfixturevalue("mongodb_url")
        )

        def factory() -> Store:
            store = open_store(url)
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: Callable[[], Store]) -> Store:
    """A fresh, empty store of the parametrized backend."""
    return open_backend()
