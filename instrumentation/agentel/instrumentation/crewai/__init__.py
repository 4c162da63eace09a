"""OpenTelemetry instrumentation for CrewAI.

    from agentel.instrumentation.crewai import CrewAIInstrumentor
    CrewAIInstrumentor().instrument(tracer_provider=provider)

Wraps CrewAI's own methods (its event bus delivers events on a thread of its own, so the
current span could not be followed from them):

* ``Crew.kickoff`` / ``akickoff`` (``kickoff_async``, ``kickoff_for_each`` and a streamed
  kickoff run through them) -> ``invoke_workflow {crew}``, the run;
* a task's execution (``Task.execute_sync`` / ``execute_async`` / ``aexecute_sync``) ->
  ``step {task}`` (``agentel.step.type = task``);
* ``Agent.execute_task`` / ``aexecute_task`` (and a standalone ``Agent.kickoff``) ->
  ``invoke_agent {role}``;
* a tool run (``BaseTool.run`` / ``arun``, ``CrewStructuredTool.invoke`` / ``ainvoke``) ->
  ``execute_tool {tool}``;
* an LLM call (``call`` / ``acall`` of CrewAI's LiteLLM ``LLM`` and of its native OpenAI,
  Anthropic, Gemini, Azure and Bedrock providers) -> ``chat {model}`` with the usage each
  API response reported and the call's cost. The provider SDK's span (with agentel's
  OpenAI or LiteLLM instrumentor on) nests under it and is counted once.

Prompts, outputs and tool arguments and results are recorded only with content capture on.
``crewai`` is imported only when instrumenting; a provider module CrewAI imports later (when
an LLM of that provider is first made) is wrapped on its import.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from .._config import InstrumentationConfig
from .._patching import Patch, apply, restore
from ..version import __version__

_INSTRUMENTS = ("crewai >= 1.0",)

_PROVIDERS_PACKAGE = "crewai.llms.providers."
_PROVIDER_MODULE = _PROVIDERS_PACKAGE + "{}.completion"
_LLM_CLASSES = {
    "crewai.llm": "LLM",
    _PROVIDER_MODULE.format("openai"): "OpenAICompletion",
    _PROVIDER_MODULE.format("anthropic"): "AnthropicCompletion",
    _PROVIDER_MODULE.format("gemini"): "GeminiCompletion",
    _PROVIDER_MODULE.format("azure"): "AzureCompletion",
    _PROVIDER_MODULE.format("bedrock"): "BedrockCompletion",
}
"""The modules of CrewAI's LLM classes and the class whose ``call`` / ``acall`` each defines."""

_hooked: set[str] = set()
_active: list[CrewAIInstrumentor] = []
_lock = threading.Lock()


def _on_import(module: Any) -> None:
    """Post-import hook of a CrewAI provider module: wrap it for the active instrumentor."""
    with _lock:
        instrumentors = list(_active)
    for instrumentor in instrumentors:
        instrumentor._apply_deferred(module.__name__)


class CrewAIInstrumentor(BaseInstrumentor):
    """Instrument CrewAI crews, tasks, agents, tools and LLM calls.

    ``instrument(tracer_provider=None, capture_content=None, redact=None)``.
    """

    _import_name = "crewai"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _patched: list[tuple[str, str]]
    _deferred: dict[str, list[Patch]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        from ._spans import AGENT, CREW, LLM, TASK, TOOL, Spans

        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        config = InstrumentationConfig.resolve(
            capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
        )
        spans = Spans(tracer, config)
        patches: list[Patch] = [
            ("crewai.crew", "Crew.kickoff", spans.sync(CREW)),
            ("crewai.crew", "Crew.akickoff", spans.coroutine(CREW)),
            ("crewai.task", "Task._execute_core", spans.sync(TASK)),
            ("crewai.task", "Task._aexecute_core", spans.coroutine(TASK)),
            ("crewai.agent.core", "Agent.execute_task", spans.sync(AGENT)),
            ("crewai.agent.core", "Agent.aexecute_task", spans.coroutine(AGENT)),
            ("crewai.agent.core", "Agent.kickoff", spans.sync(AGENT)),
            ("crewai.agent.core", "Agent.kickoff_async", spans.coroutine(AGENT)),
            ("crewai.tools.base_tool", "BaseTool.run", spans.sync(TOOL)),
            ("crewai.tools.base_tool", "BaseTool.arun", spans.coroutine(TOOL)),
            ("crewai.tools.base_tool", "Tool.run", spans.sync(TOOL)),
            ("crewai.tools.base_tool", "Tool.arun", spans.coroutine(TOOL)),
            ("crewai.tools.structured_tool", "CrewStructuredTool.invoke", spans.sync(TOOL)),
            ("crewai.tools.structured_tool", "CrewStructuredTool.ainvoke", spans.coroutine(TOOL)),
            ("crewai.llms.base_llm", "BaseLLM._track_token_usage_internal", spans.usage()),
            ("crewai.llms.base_llm", "BaseLLM._emit_call_completed_event", spans.completed()),
            (
                _PROVIDER_MODULE.format("bedrock"),
                "BedrockCompletion._track_token_usage_internal",
                spans.usage(),
            ),
        ]
        for module, cls in _LLM_CLASSES.items():
            patches.append((module, f"{cls}.call", spans.sync(LLM)))
            patches.append((module, f"{cls}.acall", spans.coroutine(LLM)))
        # a provider module imports its SDK: wrapped when CrewAI imports it, not imported here
        now: list[Patch] = []
        self._deferred = {}
        for patch in patches:
            module = patch[0]
            if module.startswith(_PROVIDERS_PACKAGE) and module not in sys.modules:
                self._deferred.setdefault(module, []).append(patch)
            else:
                now.append(patch)
        self._patched = apply(now)
        with _lock:
            _active.append(self)
            hooks = [module for module in self._deferred if module not in _hooked]
            _hooked.update(hooks)
        for module in hooks:
            wrapt.register_post_import_hook(_on_import, module)

    def _apply_deferred(self, module: str) -> None:
        with _lock:
            patches = self._deferred.pop(module, None)
        if patches:
            self._patched.extend(apply(patches))

    def _uninstrument(self, **kwargs: Any) -> None:
        with _lock:
            if self in _active:
                _active.remove(self)
            self._deferred = {}
        restore(getattr(self, "_patched", ()))
        self._patched = []
