"""OpenTelemetry instrumentation for LangChain and LangGraph, through their callback system.

    from agentel.instrumentation.langchain import LangChainInstrumentor
    LangChainInstrumentor().instrument(tracer_provider=provider)

Registers one callback handler with langchain_core's configure hook, so every run of every
chain, graph, agent, chat model and tool reports to it, with no change to the user's code:

* a top-level invocation (a LangGraph graph or agent, a chain) -> ``invoke_agent {name}``
  (``root_operation="invoke_workflow"`` makes it ``invoke_workflow {name}``);
* chain steps and graph nodes -> INTERNAL spans named after the step (``chain_spans=False``
  switches them off; their children move up to the nearest span);
* chat-model calls -> ``chat {model}`` with usage from the message's ``usage_metadata``;
* tools -> ``execute_tool {name}``; retrievers -> ``retrieval {name}``.

The span of a running step is the current OpenTelemetry span, so with ``OpenAIInstrumentor``
also on, the provider's ``chat`` span nests under LangChain's and the store counts its tokens
and cost once. ``langchain_core`` is imported only when instrumenting.
"""

from __future__ import annotations

from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from agentel.semconv.attributes import Operation

from .._common import log_once
from .._config import InstrumentationConfig
from ..version import __version__

_INSTRUMENTS = ("langchain-core >= 0.3",)
_MANAGER_MODULE = "langchain_core.callbacks.manager"

# Async end callbacks that LangChain runs in a shielded task (a copied context): the span's
# context must be released in the caller's context before LangChain creates that task.
_ASYNC_ENDS: tuple[tuple[str, str], ...] = (
    ("AsyncCallbackManagerForLLMRun", "on_llm_end"),
    ("AsyncCallbackManagerForLLMRun", "on_llm_error"),
    ("AsyncCallbackManagerForChainRun", "on_chain_end"),
    ("AsyncCallbackManagerForChainRun", "on_chain_error"),
    ("AsyncCallbackManagerForRetrieverRun", "on_retriever_end"),
    ("AsyncCallbackManagerForRetrieverRun", "on_retriever_error"),
)


class LangChainInstrumentor(BaseInstrumentor):
    """Instrument LangChain / LangGraph.

    ``instrument(tracer_provider=None, capture_content=None, chain_spans=True,
    root_operation="invoke_agent")``.
    """

    _import_name = "langchain_core"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _handler: Any = None
    _hook: tuple[Any, ...] | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    @property
    def handler(self) -> Any:
        """The callback handler registered by the last ``instrument()`` (``None`` before)."""
        return self._handler

    def _instrument(self, **kwargs: Any) -> None:
        from langchain_core.tracers.context import _configure_hooks, register_configure_hook

        from ._handler import AgentelCallbackHandler

        root_operation = kwargs.get("root_operation") or Operation.INVOKE_AGENT
        if root_operation not in (Operation.INVOKE_AGENT, Operation.INVOKE_WORKFLOW):
            raise ValueError(
                f"root_operation must be 'invoke_agent' or 'invoke_workflow'; got {root_operation!r}"
            )
        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        handler = AgentelCallbackHandler(
            tracer,
            InstrumentationConfig.resolve(
                capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
            ),
            chain_spans=kwargs.get("chain_spans", True),
            root_operation=root_operation,
        )
        # A ContextVar whose default is the handler: set in every context and thread.
        var: ContextVar[Any] = ContextVar("agentel_langchain_handler", default=handler)
        register_configure_hook(var, True)
        self._hook = _configure_hooks[-1]
        self._handler = handler
        for owner, method in _ASYNC_ENDS:
            wrap_function_wrapper(
                _MANAGER_MODULE, f"{owner}.{method}", _release_first(handler.attachments)
            )

    def _uninstrument(self, **kwargs: Any) -> None:
        from langchain_core.callbacks import manager
        from langchain_core.tracers.context import _configure_hooks

        if self._hook in _configure_hooks:
            _configure_hooks.remove(self._hook)
        self._hook = None
        self._handler = None
        for owner, method in _ASYNC_ENDS:
            unwrap(getattr(manager, owner), method)


def _release_first(attachments: Any) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            attachments.release(instance.run_id)
        except Exception:
            log_once("langchain.release", "could not restore the context")
        return wrapped(*args, **kwargs)

    return wrapper


__all__ = ["LangChainInstrumentor"]
