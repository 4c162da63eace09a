"""OpenTelemetry instrumentation for the ``openai`` Python SDK.

    from agentel.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(tracer_provider=provider)

Traces ``client.chat.completions.create`` (sync and async, non-streaming) as ``chat {model}``
CLIENT spans with the GenAI request/response/usage attributes and the call's cost. Streaming
calls (``stream=True``) currently pass through untraced.

``openai`` is imported only when instrumenting, so this module imports without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from .._config import InstrumentationConfig
from .._wrappers import async_llm_wrapper, sync_llm_wrapper
from ..version import __version__

_INSTRUMENTS = ("openai >= 1.40",)

# (module, attribute path, is async). One row per patched method;
# later call kinds (streams, responses API, embeddings) add rows.
_CHAT_MODULE = "openai.resources.chat.completions"
_TARGETS: tuple[tuple[str, str, bool], ...] = (
    (_CHAT_MODULE, "Completions.create", False),
    (_CHAT_MODULE, "AsyncCompletions.create", True),
)


class OpenAIInstrumentor(BaseInstrumentor):
    """Instrument the OpenAI SDK. ``instrument(tracer_provider=None, capture_content=None)``.

    ``capture_content`` defaults to ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``,
    read once at ``instrument()`` time.
    """

    _config: InstrumentationConfig | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    @property
    def config(self) -> InstrumentationConfig | None:
        """The settings resolved by the last ``instrument()`` call (``None`` before)."""
        return self._config

    def _instrument(self, **kwargs: Any) -> None:
        from . import _chat

        config = InstrumentationConfig.resolve(capture_content=kwargs.get("capture_content"))
        self._config = config
        tracer = trace.get_tracer(
            __name__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        extract_request = _chat.request_extractor(config)
        for module, path, is_async in _TARGETS:
            factory = async_llm_wrapper if is_async else sync_llm_wrapper
            wrapper = factory(tracer, extract_request, _chat.handle_response, site=f"openai.{path}")
            wrap_function_wrapper(module, path, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        for module_name, path, _ in _TARGETS:
            owner_path, _, attr = path.rpartition(".")
            module = importlib.import_module(module_name)
            owner: Any = module
            for part in owner_path.split("."):
                owner = getattr(owner, part)
            unwrap(owner, attr)


__all__ = ["OpenAIInstrumentor"]
