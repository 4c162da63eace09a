"""OpenTelemetry instrumentation for Pydantic AI, through its own GenAI spans.

    from agentel.instrumentation.pydantic_ai import PydanticAIInstrumentor
    PydanticAIInstrumentor().instrument(tracer_provider=provider)

Pydantic AI already emits spans in the official GenAI conventions when instrumented
(``invoke_agent {agent}`` per ``Agent.run`` / ``run_sync`` / ``run_stream``, ``chat {model}``
per model request with usage, ``execute_tool {tool}`` per tool call). This instrumentor
switches them on for every agent that has no instrumentation setting of its own
(``Agent.instrument_all``), on agentel's tracer provider and with agentel's content setting:
prompts, outputs and tool arguments are recorded only when content capture is opted in.

If the application already called ``Agent.instrument_all(...)`` its settings are kept. The
store reads Pydantic AI's attribute names (including its ``gen_ai.usage.details.*`` token
spellings), an agent run becomes one run, and with agentel's OpenAI or Anthropic instrumentor
on as well the provider span nests under Pydantic AI's ``chat`` span and is counted once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._config import InstrumentationConfig

_INSTRUMENTS = ("pydantic-ai-slim >= 1.0",)

_NOT_SET = object()


class PydanticAIInstrumentor(BaseInstrumentor):
    """Switch on Pydantic AI's own GenAI spans with agentel's settings.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None)``.
    """

    _import_name = "pydantic_ai"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _previous: Any = _NOT_SET

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        from pydantic_ai import Agent, InstrumentationSettings

        previous = getattr(Agent, "_instrument_default", False)
        self._previous = previous
        if previous:
            return  # the application chose its own settings
        config = InstrumentationConfig.resolve(capture_content=kwargs.get("capture_content"))
        Agent.instrument_all(
            InstrumentationSettings(
                tracer_provider=kwargs.get("tracer_provider"),
                meter_provider=kwargs.get("meter_provider"),
                include_content=config.capture_content,
                include_binary_content=False,
            )
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        from pydantic_ai import Agent

        previous, self._previous = self._previous, _NOT_SET
        if previous is not _NOT_SET and not previous:
            Agent.instrument_all(previous)
