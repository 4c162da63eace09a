"""OpenTelemetry instrumentation for the ``openai`` Python SDK.

    from agentel.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

Traces, sync and async: ``chat.completions.create`` (also ``stream=True``,
``with_raw_response`` and the ``chat.completions.stream()`` helper, which calls ``create``),
``chat.completions.parse``, ``responses.create`` / ``parse`` / ``stream()`` and
``embeddings.create``. Each call is one CLIENT span (``chat {model}``, ``embeddings {model}``)
with the GenAI request, response and usage attributes and the call's cost; streams are
proxied so the span ends exactly once however the stream ends.

``openai`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._retries import retry_patches
from .._streams import async_helper_close_wrapper, helper_close_wrapper
from .._wrappers import async_llm_wrapper, sync_llm_wrapper

_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses"
_EMBEDDINGS = "openai.resources.embeddings"

# (module, method path, is async, kind): one row per traced SDK method.
_TARGETS: tuple[tuple[str, str, bool, str], ...] = (
    (_CHAT, "Completions.create", False, "chat"),
    (_CHAT, "AsyncCompletions.create", True, "chat"),
    (_CHAT, "Completions.parse", False, "chat"),
    (_CHAT, "AsyncCompletions.parse", True, "chat"),
    (_RESPONSES, "Responses.create", False, "responses"),
    (_RESPONSES, "AsyncResponses.create", True, "responses"),
    (_RESPONSES, "Responses.parse", False, "responses"),
    (_RESPONSES, "AsyncResponses.parse", True, "responses"),
    (_EMBEDDINGS, "Embeddings.create", False, "embeddings"),
    (_EMBEDDINGS, "AsyncEmbeddings.create", True, "embeddings"),
)

# Stream helpers close the HTTP response themselves: their close() also ends our span.
_HELPER_CLOSES: tuple[tuple[str, str, bool], ...] = (
    ("openai.lib.streaming.chat", "ChatCompletionStream.close", False),
    ("openai.lib.streaming.chat", "AsyncChatCompletionStream.close", True),
    ("openai.lib.streaming.responses", "ResponseStream.close", False),
    ("openai.lib.streaming.responses", "AsyncResponseStream.close", True),
)


class OpenAIInstrumentor(ProviderInstrumentor):
    """Instrument the OpenAI SDK.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None, stream_usage=False)``:

    - ``capture_content`` defaults to ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``,
      read once at ``instrument()`` time; ``redact`` rewrites every captured text.
    - ``stream_usage=True`` is an opt-in that ALTERS requests: a chat ``stream=True`` call
      without ``stream_options`` gets ``stream_options={"include_usage": True}``, so streamed
      calls report tokens and cost (the stream then ends with one extra chunk whose
      ``choices`` is empty). Off by default: requests are never changed.
    """

    _import_name = "openai"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _instruments = ("openai >= 1.40",)

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _chat, _embeddings, _responses

        kinds = {
            "chat": (
                _chat.request_extractor(config, stream_usage=bool(options.get("stream_usage"))),
                _chat.handle_response,
            ),
            "responses": (_responses.request_extractor(config), _responses.handle_response),
            "embeddings": (_embeddings.request_extractor(config), _embeddings.handle_response),
        }
        patches: list[Patch] = []
        for module, path, is_async, kind in _TARGETS:
            extract, handle = kinds[kind]
            factory = async_llm_wrapper if is_async else sync_llm_wrapper
            wrapper = factory(
                tracer, extract, handle, site=f"openai.{path}", config=config, metrics=metrics
            )
            patches.append((module, path, wrapper))
        for module, path, is_async in _HELPER_CLOSES:
            patches.append(
                (module, path, async_helper_close_wrapper if is_async else helper_close_wrapper)
            )
        patches.extend(retry_patches("openai"))
        return patches


__all__ = ["OpenAIInstrumentor"]
