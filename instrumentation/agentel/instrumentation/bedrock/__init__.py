"""OpenTelemetry instrumentation for Amazon Bedrock through ``botocore`` (and so ``boto3``).

    from agentel.instrumentation.bedrock import BedrockInstrumentor
    BedrockInstrumentor().instrument(tracer_provider=provider)

Traces the ``bedrock-runtime`` operations ``Converse``, ``ConverseStream``, ``InvokeModel``
and ``InvokeModelWithResponseStream`` (InvokeModel bodies of the Anthropic, Amazon Nova,
Meta Llama and Mistral families). Each is one CLIENT span ``chat {modelId}`` with
``gen_ai.provider.name = "aws.bedrock"``, the request parameters, the stop reason, the
request id, tokens (cache reads and writes included) and the call's cost; streams are
proxied so the span ends exactly once however the stream ends. Every other AWS call passes
through after one service-name check.

``aiobotocore`` (async botocore, under aioboto3) gets the same spans for the same
operations: its ``AioBaseClient._make_api_call`` is wrapped when ``aiobotocore.client`` is
imported (at once if it already is), so a sync-only application never imports it.

botocore's own retries happen inside ``_make_api_call``: one span per operation call.
``botocore`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor, apply
from .._wrappers import async_llm_wrapper, sync_llm_wrapper

_AIO_MODULE = "aiobotocore.client"


class BedrockInstrumentor(ProviderInstrumentor):
    """Instrument Amazon Bedrock runtime calls made with botocore / boto3.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _import_name = "botocore"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _instruments = ("botocore >= 1.34",)
    _aio_patch: Patch | None = None
    """aiobotocore's patch while it waits for ``aiobotocore.client`` to be imported."""

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _aio, _runtime

        extract = _runtime.request_extractor(config)
        shared: dict[str, Any] = {"config": config, "metrics": metrics}
        wrapper = sync_llm_wrapper(
            tracer, extract, _runtime.handle_response, site="bedrock._make_api_call", **shared
        )
        aio_wrapper = _aio.reading_wrapper(
            async_llm_wrapper(
                tracer, extract, _aio.handle_response, site="bedrock.aio._make_api_call", **shared
            )
        )
        aio_patch: Patch = (_AIO_MODULE, "AioBaseClient._make_api_call", aio_wrapper)
        patches = [("botocore.client", "BaseClient._make_api_call", wrapper)]
        if _AIO_MODULE in sys.modules:
            patches.append(aio_patch)
        else:
            self._aio_patch = aio_patch
        return patches

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        if self._aio_patch is not None:
            import wrapt

            wrapt.register_post_import_hook(self._on_aio_import, _AIO_MODULE)

    def _on_aio_import(self, module: Any) -> None:
        """Wrap aiobotocore once it is imported, unless uninstrumented since."""
        patch, self._aio_patch = self._aio_patch, None
        if patch is not None:
            self._patched.extend(apply([patch]))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._aio_patch = None  # an import after this point patches nothing
        super()._uninstrument(**kwargs)


__all__ = ["BedrockInstrumentor"]
