"""OpenTelemetry instrumentation for the ``google-genai`` SDK (Gemini API and Vertex AI).

    from agentel.instrumentation.google_genai import GoogleGenAIInstrumentor
    GoogleGenAIInstrumentor().instrument(tracer_provider=provider)

Traces, sync and async (``client.models`` and ``client.aio.models``): ``generate_content``,
``generate_content_stream`` and ``embed_content``, and through them ``client.chats``. Each
call is one CLIENT span (``generate_content {model}``, ``embeddings {model}``) with
``gen_ai.provider.name = "gcp.gen_ai"``, the GenAI request, response and usage attributes
and the call's cost.

Unary calls are traced per HTTP request (``Models._generate_content``): automatic function
calling and automatic continuation send several requests from one ``generate_content``
call, and each request gets its own span with its own usage. Streams are traced at the
public ``generate_content_stream``, the object the application holds, so closing it early
ends the span as ``closed``; when one stream spans several requests (automatic function
calling, continuation) the usage of every request is summed, each counted once.

``google.genai`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._wrappers import async_llm_wrapper, sync_llm_wrapper

_MODELS = "google.genai.models"

# (method path, is async, kind): one row per traced SDK method.
_TARGETS: tuple[tuple[str, bool, str], ...] = (
    ("Models._generate_content", False, "content"),
    ("Models.generate_content_stream", False, "stream"),
    ("Models._embed_content", False, "embeddings"),
    ("AsyncModels._generate_content", True, "content"),
    ("AsyncModels.generate_content_stream", True, "stream"),
    ("AsyncModels._embed_content", True, "embeddings"),
)


class GoogleGenAIInstrumentor(ProviderInstrumentor):
    """Instrument the Google Gen AI SDK (``google-genai``).

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _import_name = "google.genai"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _instruments = ("google-genai >= 1.0",)

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _models

        kinds = {
            "content": (_models.request_extractor(config), _models.handle_response),
            "stream": (_models.request_extractor(config, stream=True), _models.handle_response),
            "embeddings": (_models.embeddings_extractor(config), _models.handle_embeddings),
        }
        patches: list[Patch] = []
        for path, is_async, kind in _TARGETS:
            extract, handle = kinds[kind]
            factory = async_llm_wrapper if is_async else sync_llm_wrapper
            wrapper = factory(
                tracer, extract, handle, site=f"google_genai.{path}", config=config, metrics=metrics
            )
            patches.append((_MODELS, path, wrapper))
        return patches


__all__ = ["GoogleGenAIInstrumentor"]
