"""OpenTelemetry instrumentation for the OpenAI Agents SDK (``openai-agents``).

    from agentel.instrumentation.openai_agents import OpenAIAgentsInstrumentor
    OpenAIAgentsInstrumentor().instrument(tracer_provider=provider)

Registers a tracing processor with the SDK (``agents.add_trace_processor``) that turns its
traces and spans into spans in agentel's conventions:

* a trace (one ``Runner.run``) -> ``invoke_workflow {trace name}``, the run;
* an agent -> ``invoke_agent {name}``; each loop turn -> ``agentel.iteration`` on its spans;
* a generation / response -> ``chat {model}`` with usage and cost;
* a function tool -> ``execute_tool {name}``; a handoff -> ``handoff {to agent}``;
  a guardrail -> ``guardrail {name}`` with ``agentel.guardrail.triggered``.

The model call's span is current while the SDK calls OpenAI, so with ``OpenAIInstrumentor``
also on, the provider span nests under it and tokens and cost are counted once.
``exclusive=True`` replaces the SDK's other processors (including its default exporter to
OpenAI's servers) instead of adding to them. ``agents`` is imported only when instrumenting.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._common import log_once
from .._config import InstrumentationConfig
from ..version import __version__

_INSTRUMENTS = ("openai-agents >= 0.1",)


class OpenAIAgentsInstrumentor(BaseInstrumentor):
    """Instrument the OpenAI Agents SDK.

    ``instrument(tracer_provider=None, capture_content=None, exclusive=False)``.
    """

    _import_name = "agents"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _processor: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    @property
    def processor(self) -> Any:
        """The tracing processor registered by the last ``instrument()`` (``None`` before)."""
        return self._processor

    def _instrument(self, **kwargs: Any) -> None:
        from agents.tracing import add_trace_processor, set_trace_processors

        from ._processor import AgentelTracingProcessor

        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        config = InstrumentationConfig.resolve(
            capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
        )
        processor = AgentelTracingProcessor(tracer, config)
        if kwargs.get("exclusive"):
            set_trace_processors([processor])
        else:
            add_trace_processor(processor)
        self._processor = processor

    def _uninstrument(self, **kwargs: Any) -> None:
        from agents.tracing import get_trace_provider

        processor, self._processor = self._processor, None
        # The SDK has no public "remove a processor": filter the provider's list.
        try:
            multi = get_trace_provider()._multi_processor  # type: ignore[attr-defined]
            remaining = [p for p in multi._processors if p is not processor]
            multi.set_processors(remaining)
        except Exception:
            log_once("openai_agents.uninstrument", "could not remove the tracing processor")


__all__ = ["OpenAIAgentsInstrumentor"]
