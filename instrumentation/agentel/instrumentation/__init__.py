"""agentel's producers: the manual API and one sub-package per instrumented library.

Manual API::

    from agentel.instrumentation import agent, iteration, llm, record_event, set_usage, tool

    @agent("planner")
    def plan(task):
        record_event("plan", steps=["search", "answer"])
        for _ in range(3):
            with iteration():          # one pass of the loop
                with llm("my-model", "vllm"):
                    set_usage(input_tokens=10, output_tokens=5)

Context propagation to threads and other processes: :mod:`agentel.instrumentation.context`.

Instrumentors live in sub-packages (``agentel.instrumentation.openai.OpenAIInstrumentor``) and
import their library lazily, so importing this package needs none of them installed.
"""

from ._api import (
    Iteration,
    Scope,
    agent,
    current_llm,
    iteration,
    llm,
    record_event,
    set_model,
    set_usage,
    tool,
)
from ._config import InstrumentationConfig
from ._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle
from .version import __version__

__all__ = [
    "AgentHandle",
    "InstrumentationConfig",
    "Iteration",
    "LLMHandle",
    "Scope",
    "SpanHandle",
    "ToolHandle",
    "__version__",
    "agent",
    "current_llm",
    "iteration",
    "llm",
    "record_event",
    "set_model",
    "set_usage",
    "tool",
]
