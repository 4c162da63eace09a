"""Fixtures for the framework integrations: the provider instrumentor on or off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace

from agentel.instrumentation.openai import OpenAIInstrumentor


@pytest.fixture(params=["provider_on", "provider_off"])
def provider_instrumentor(request, fanout) -> Iterator[bool]:
    """Each integration test runs with OpenAIInstrumentor on and off; yields whether it is on."""
    if request.param == "provider_off":
        yield False
        return
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield True
    finally:
        instrumentor.uninstrument()
