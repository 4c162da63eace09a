"""OpenTelemetry instrumentation for LiteLLM's SDK (``litellm.completion`` and friends).

    from agentel.instrumentation.litellm import LiteLLMInstrumentor
    LiteLLMInstrumentor().instrument(tracer_provider=provider)

Traces ``litellm.completion`` / ``acompletion`` (also ``stream=True``) and ``embedding`` /
``aembedding``: one CLIENT span ``chat {model}`` / ``embeddings {model}`` per call, with
``gen_ai.provider.name`` set to the provider LiteLLM routes to (``openai``, ``anthropic``,
``gcp.gemini``, ``aws.bedrock``, ``mistral_ai``...), the OpenAI-shaped request, response,
usage (cached and reasoning tokens included) and the call's cost. LiteLLM's own retries and
fallbacks happen inside the one span.

When LiteLLM calls an SDK agentel also instruments (the ``openai`` SDK for OpenAI and
OpenAI-compatible providers), that SDK's span nests under LiteLLM's and is the one the
store counts, so a call is counted once.

``litellm`` is never imported by agentel: if it is not imported yet when ``instrument()``
runs, the patches are applied when the application imports it (``import litellm`` itself
may fetch LiteLLM's model cost map unless ``LITELLM_LOCAL_MODEL_COST_MAP=True``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._wrappers import async_llm_wrapper, sync_llm_wrapper

# (function, is async, kind)
_TARGETS: tuple[tuple[str, bool, str], ...] = (
    ("completion", False, "chat"),
    ("acompletion", True, "chat"),
    ("embedding", False, "embeddings"),
    ("aembedding", True, "embeddings"),
)


class LiteLLMInstrumentor(ProviderInstrumentor):
    """Instrument the LiteLLM SDK.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _instruments = ("litellm >= 1.40",)
    _import_name = "litellm"
    _pending: list[Patch] | None = None

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _calls

        patches: list[Patch] = []
        for name, is_async, kind in _TARGETS:
            factory = async_llm_wrapper if is_async else sync_llm_wrapper
            extract, handle = _calls.HANDLERS[(kind, is_async)](config)
            wrapper = factory(
                tracer, extract, handle, site=f"litellm.{name}", config=config, metrics=metrics
            )
            patches.append(("litellm", name, wrapper))
        return patches

    def _instrument(self, **kwargs: Any) -> None:
        if "litellm" in sys.modules:
            super()._instrument(**kwargs)
            return
        # not imported yet: patch when the application imports it (agentel never imports it)
        import wrapt

        self._patched = []
        self._pending_kwargs = kwargs
        self._pending = []  # a marker: the hook below applies the patches while it is set

        def on_import(module: Any) -> None:
            if self._pending is not None:
                self._pending = None
                ProviderInstrumentor._instrument(self, **self._pending_kwargs)

        wrapt.register_post_import_hook(on_import, "litellm")

    def _uninstrument(self, **kwargs: Any) -> None:
        self._pending = None  # an import after this point patches nothing
        super()._uninstrument(**kwargs)


__all__ = ["LiteLLMInstrumentor"]
