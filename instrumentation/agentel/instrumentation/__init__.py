"""agentel's producers: the manual API and one sub-package per instrumented library.

Manual API::

    from agentel.instrumentation import agent, llm, tool, record_event, set_usage

    @agent("planner")
    def plan(task): ...

    with llm("gpt-4o-mini", "openai") as call:
        call.set_usage(input_tokens=10, output_tokens=5)

Instrumentors live in sub-packages (``agentel.instrumentation.openai.OpenAIInstrumentor``) and
import their library lazily, so importing this package needs none of them installed.
"""

from ._api import Scope, agent, current_llm, llm, record_event, set_usage, tool
from ._config import InstrumentationConfig
from ._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle
from .version import __version__

__all__ = [
    "AgentHandle",
    "InstrumentationConfig",
    "LLMHandle",
    "Scope",
    "SpanHandle",
    "ToolHandle",
    "__version__",
    "agent",
    "current_llm",
    "llm",
    "record_event",
    "set_usage",
    "tool",
]
