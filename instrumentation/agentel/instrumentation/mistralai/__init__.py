"""OpenTelemetry instrumentation for the ``mistralai`` Python SDK.

    from agentel.instrumentation.mistralai import MistralInstrumentor
    MistralInstrumentor().instrument(tracer_provider=provider)

Traces, sync and async: ``chat.complete`` / ``complete_async``, ``chat.stream`` /
``stream_async`` and ``embeddings.create`` / ``create_async``. Each call is one CLIENT span
(``chat {model}``, ``embeddings {model}``) with ``gen_ai.provider.name = "mistral_ai"``, the
request parameters, response id, model and finish reasons, usage and the call's cost; tool
calls are ``agentel.tool_call`` events; streams are proxied so the span ends exactly once.

The SDK has a tracing hook of its own that emits spans to the global tracer provider; they
nest under agentel's span.

``mistralai`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._wrappers import async_llm_wrapper, sync_llm_wrapper

# (module, method path, is async, kind)
_TARGETS: tuple[tuple[str, str, bool, str], ...] = (
    ("mistralai.client.chat", "Chat.complete", False, "chat"),
    ("mistralai.client.chat", "Chat.complete_async", True, "chat"),
    ("mistralai.client.chat", "Chat.stream", False, "stream"),
    ("mistralai.client.chat", "Chat.stream_async", True, "stream"),
    ("mistralai.client.embeddings", "Embeddings.create", False, "embeddings"),
    ("mistralai.client.embeddings", "Embeddings.create_async", True, "embeddings"),
)


class MistralInstrumentor(ProviderInstrumentor):
    """Instrument the Mistral SDK (``mistralai``).

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _instruments = ("mistralai >= 1.0",)
    _import_name = "mistralai"

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _chat

        patches: list[Patch] = []
        for module, path, is_async, kind in _TARGETS:
            extract, handle = _chat.HANDLERS[kind](config)
            factory = async_llm_wrapper if is_async else sync_llm_wrapper
            wrapper = factory(
                tracer, extract, handle, site=f"mistralai.{path}", config=config, metrics=metrics
            )
            patches.append((module, path, wrapper))
        return patches


__all__ = ["MistralInstrumentor"]
