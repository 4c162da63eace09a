"""OpenTelemetry instrumentation for the ``anthropic`` Python SDK.

    from agentel.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument(tracer_provider=provider)

Traces, sync and async: ``messages.create`` (also ``stream=True`` and
``with_raw_response``), ``messages.parse`` and the ``messages.stream()`` helper (one span per
call: the helper sends its own request rather than calling ``create``), plus the same methods
under ``client.beta.messages``. Each call is one CLIENT span ``chat {model}`` with the GenAI
request/response attributes, ``tool_use`` blocks as ``agentel.tool_call`` events, usage
mapped to the official convention (see :mod:`._messages`) and the call's cost.

Recent ``anthropic`` releases emit their own OpenTelemetry span per API call as well
(``anthropic.messages.create``); it nests under agentel's span, and the store counts the two
as one call with the most complete usage of both. Pass ``open_telemetry=False`` to the
client (or set ``ANTHROPIC_OPEN_TELEMETRY=false``) to keep one span per call.

``anthropic`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._retries import retry_patches
from .._wrappers import async_llm_wrapper, stream_manager_wrapper, sync_llm_wrapper

_MESSAGES = "anthropic.resources.messages"
_BETA = "anthropic.resources.beta.messages"

# (module, method path, kind): kind "sync" / "async" call wrappers, "manager" for stream().
_TARGETS: tuple[tuple[str, str, str], ...] = (
    (_MESSAGES, "Messages.create", "sync"),
    (_MESSAGES, "AsyncMessages.create", "async"),
    (_MESSAGES, "Messages.parse", "sync"),
    (_MESSAGES, "AsyncMessages.parse", "async"),
    (_MESSAGES, "Messages.stream", "manager"),
    (_MESSAGES, "AsyncMessages.stream", "manager"),
    (_BETA, "Messages.create", "sync"),
    (_BETA, "AsyncMessages.create", "async"),
    (_BETA, "Messages.parse", "sync"),
    (_BETA, "AsyncMessages.parse", "async"),
    (_BETA, "Messages.stream", "manager"),
    (_BETA, "AsyncMessages.stream", "manager"),
)


class AnthropicInstrumentor(ProviderInstrumentor):
    """Instrument the Anthropic SDK.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _import_name = "anthropic"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _instruments = ("anthropic >= 0.40",)

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _messages

        extract = _messages.request_extractor(config)
        extract_stream = _messages.request_extractor(config, stream=True)
        patches: list[Patch] = []
        for module, path, kind in _TARGETS:
            site = f"anthropic.{module.rpartition('.')[2]}.{path}"
            if kind == "manager":
                wrapper = stream_manager_wrapper(
                    tracer,
                    extract_stream,
                    _messages.MessagesStreamObserver,
                    site=site,
                    config=config,
                    metrics=metrics,
                )
            else:
                factory = async_llm_wrapper if kind == "async" else sync_llm_wrapper
                wrapper = factory(
                    tracer,
                    extract,
                    _messages.handle_response,
                    site=site,
                    config=config,
                    metrics=metrics,
                )
            patches.append((module, path, wrapper))
        patches.extend(retry_patches("anthropic"))
        return patches


__all__ = ["AnthropicInstrumentor"]
