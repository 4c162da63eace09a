"""Errors our own code swallows (``log_once``/``guarded``) reach the test suite's fixture."""

from __future__ import annotations

import logging

import pytest

from agentel.instrumentation._common import guarded


def test_a_swallowed_error_is_collected_for_the_test(no_swallowed_errors) -> None:
    with guarded("selftest.collect", "do the thing"):
        raise ValueError("boom")
    assert [(s.site, s.message, repr(s.error)) for s in no_swallowed_errors] == [
        ("selftest.collect", "could not do the thing", "ValueError('boom')")
    ]
    no_swallowed_errors.clear()  # handled here; the fixture would fail the test otherwise


@pytest.mark.parametrize("attempt", [1, 2])
@pytest.mark.swallows("selftest.order")
def test_every_test_starts_with_no_site_logged(attempt: int, caplog) -> None:
    """The second run would log at DEBUG only if the sites logged by the first were kept."""
    with (
        caplog.at_level(logging.WARNING, logger="agentel.instrumentation"),
        guarded("selftest.order", "do the thing"),
    ):
        raise ValueError("boom")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
