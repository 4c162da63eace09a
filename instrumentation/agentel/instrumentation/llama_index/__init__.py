"""OpenTelemetry instrumentation for LlamaIndex, through its instrumentation dispatcher.

    from agentel.instrumentation.llama_index import LlamaIndexInstrumentor
    LlamaIndexInstrumentor().instrument(tracer_provider=provider)

A span handler and an event handler on LlamaIndex's root dispatcher (no monkey-patching)
turn its spans and events into spans in agentel's conventions:

* an agent's ``run`` -> ``invoke_agent {name}`` (the run); a workflow's ``run``, a query
  engine's ``query`` or a chat engine's ``chat`` -> ``invoke_workflow {class}``;
* an LLM chat or completion -> ``chat {model}`` with usage and cost, from the start event
  to the end event (a stream ends when it is consumed, after its span has closed); it is the
  current span meanwhile, so the provider SDK's span nests under it and is counted once;
* a tool call -> ``execute_tool {tool}``; a retrieval -> ``retrieval {retriever}`` with the
  number of documents and their scores; an embedding -> ``embeddings {model}``.

LlamaIndex's other internal steps are not recorded; what happens inside them nests under the
nearest recorded ancestor. ``llama_index`` is imported only when instrumenting.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._config import InstrumentationConfig
from ..version import __version__

_INSTRUMENTS = ("llama-index-core >= 0.12",)


class LlamaIndexInstrumentor(BaseInstrumentor):
    """Instrument LlamaIndex agents, workflows, LLMs, tools, retrievers and embeddings.

    ``instrument(tracer_provider=None, capture_content=None, redact=None)``.
    """

    _handlers: tuple[Any, Any] | None = None
    _import_name = "llama_index.core"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        from llama_index.core.instrumentation import get_dispatcher

        from ._handler import Tracker, make_handlers

        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        config = InstrumentationConfig.resolve(
            capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
        )
        span_handler, event_handler = make_handlers(Tracker(tracer, config))
        dispatcher = get_dispatcher()
        dispatcher.add_span_handler(span_handler)
        dispatcher.add_event_handler(event_handler)
        self._handlers = (span_handler, event_handler)

    def _uninstrument(self, **kwargs: Any) -> None:
        from llama_index.core.instrumentation import get_dispatcher

        handlers, self._handlers = self._handlers, None
        if handlers is None:
            return
        span_handler, event_handler = handlers
        dispatcher = get_dispatcher()
        dispatcher.span_handlers[:] = [h for h in dispatcher.span_handlers if h is not span_handler]
        dispatcher.event_handlers[:] = [
            h for h in dispatcher.event_handlers if h is not event_handler
        ]
