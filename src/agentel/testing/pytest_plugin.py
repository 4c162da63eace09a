"""The ``agentel_replay`` pytest fixture: serve a recorded run or cassette file for one test.

Registered as a pytest plugin (entry point ``agentel``) when agentel is installed; a
conftest can also import it: ``from agentel.testing.pytest_plugin import agentel_replay``.

    def test_weather_agent(agentel_replay):
        agentel_replay("tests/cassettes/weather.json")  # OPENAI_BASE_URL etc. point at it
        assert run_my_agent("What's the weather in Paris?") == "..."

Each call starts a replay for the rest of the test (see :func:`agentel.testing.replay` for
the arguments) and returns its handle; at teardown it stops, and a strict replay that met a
request no recorded call matches fails the test with the call and field that differ.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def agentel_replay() -> Iterator[Callable[..., Any]]:
    """``agentel_replay(run_or_cassette, **options) -> Replay`` for the rest of the test."""
    from agentel.testing import replay

    with contextlib.ExitStack() as stack:

        def start(run_or_cassette: Any, **options: Any) -> Any:
            return stack.enter_context(replay(run_or_cassette, **options))

        yield start
