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

botocore's own retries happen inside ``_make_api_call``: one span per operation call.
``botocore`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace

from .._config import InstrumentationConfig
from .._metrics import GenAIMetrics
from .._patching import Patch, ProviderInstrumentor
from .._wrappers import sync_llm_wrapper


class BedrockInstrumentor(ProviderInstrumentor):
    """Instrument Amazon Bedrock runtime calls made with botocore / boto3.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None)``; ``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, read once at ``instrument()`` time.
    """

    _import_name = "botocore"
    """The module whose first import switches this instrumentor on when configure() defers it."""

    _instruments = ("botocore >= 1.34",)

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        from . import _runtime

        wrapper = sync_llm_wrapper(
            tracer,
            _runtime.request_extractor(config),
            _runtime.handle_response,
            site="bedrock._make_api_call",
            config=config,
            metrics=metrics,
        )
        return [("botocore.client", "BaseClient._make_api_call", wrapper)]


__all__ = ["BedrockInstrumentor"]
