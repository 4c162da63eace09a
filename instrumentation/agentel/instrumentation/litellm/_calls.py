"""LiteLLM calls: the routed provider, the OpenAI-shaped request, response and stream.

LiteLLM answers every provider in the OpenAI chat shape (``ModelResponse``, usage with
``prompt_tokens_details.cached_tokens`` and ``completion_tokens_details.reasoning_tokens``),
so the OpenAI chat readers record it; only the provider and the model name differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from .._call import ProviderCall
from .._common import log_once, server_attributes
from .._config import InstrumentationConfig
from .._streams import AsyncStreamProxy, StreamProxy
from .._wrappers import LLMRequest
from ..openai import _chat, _embeddings

# LiteLLM provider names -> gen_ai.provider.name (official values where they exist)
_PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
    "watsonx": "ibm.watsonx.ai",
}


def routed(model: Any, kwargs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(gen_ai.provider.name, model name without LiteLLM's ``provider/`` prefix)."""
    if not isinstance(model, str) or not model:
        return None, None
    provider = kwargs.get("custom_llm_provider")
    name = model
    prefix, sep, rest = model.partition("/")
    if sep and (prefix in _PROVIDERS or (provider is None and _known(prefix))):
        provider = provider or prefix
        name = rest
    if not isinstance(provider, str):
        provider = _lookup(model, kwargs)
    if provider is None:
        return None, name
    return _PROVIDERS.get(provider, provider), name


def _known(prefix: str) -> bool:
    import litellm  # already imported: the application is calling it

    return prefix in getattr(litellm, "provider_list", ())


def _lookup(model: str, kwargs: Mapping[str, Any]) -> str | None:
    """LiteLLM's own routing for a bare model name (``gpt-4o`` -> ``openai``)."""
    try:
        import litellm

        found = litellm.get_llm_provider(model=model, api_base=kwargs.get("api_base"))
        return found[1] if isinstance(found[1], str) else None
    except Exception:
        return None  # LiteLLM could not route it either: the call will say so


def _request(
    config: InstrumentationConfig, kwargs: Mapping[str, Any], operation: str
) -> LLMRequest | None:
    model = kwargs.get("model")
    provider, name = routed(model, kwargs)
    if operation == Operation.EMBEDDINGS:
        attrs = {
            A.GEN_AI_OPERATION_NAME: operation,
            A.GEN_AI_PROVIDER_NAME: provider,
            A.GEN_AI_REQUEST_MODEL: name,
            A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: _chat.integer(kwargs.get("dimensions")),
        }
        attrs.update(server_attributes(kwargs.get("api_base")))
        return LLMRequest(operation, provider, name, attrs)
    request = _chat.chat_request(config, None, (), {**kwargs, "model": name})
    if request is None:
        return None
    attrs = dict(request.attributes)
    if provider is not None:
        attrs[A.GEN_AI_PROVIDER_NAME] = provider
    else:
        attrs.pop(A.GEN_AI_PROVIDER_NAME, None)
    attrs.update(server_attributes(kwargs.get("api_base") or kwargs.get("base_url")))
    request.attributes = attrs
    request.provider = provider
    return request


class LiteLLMStreamObserver(_chat.ChatStreamObserver):
    """The chat stream observer, for LiteLLM's chunks (which carry ``usage`` only at times)."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> None:
        if self.id is None:
            self.id = getattr(chunk, "id", None)
            self.model = getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or ():
            index = getattr(choice, "index", 0) or 0
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self.reasons[index] = reason
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            tool_calls = getattr(delta, "tool_calls", None)
            if tool_calls:
                self._tool_calls(index, tool_calls)
                self.output = True  # time to first chunk is taken at the first output delta
            content = getattr(delta, "content", None)
            if content or getattr(delta, "refusal", None):
                self.output = True
                if self.capture and content:
                    self.texts.setdefault(index, []).append(content)


def _stream_handler(proxy: type, default: Callable[[ProviderCall, Any], Any]) -> Any:
    def handle(call: ProviderCall, result: Any) -> Any:
        kind = type(result)  # asked of the class: pydantic's missing-attribute path is slow
        if (hasattr(kind, "__next__") or hasattr(kind, "__anext__")) and not hasattr(
            kind, "choices"
        ):  # CustomStreamWrapper
            try:
                return proxy(result, call, LiteLLMStreamObserver(call.capture_content))
            except Exception:
                log_once("litellm.stream", "could not observe a stream; its span ends now")
                return None
        return default(call, result)

    return handle


def _chat_pair(config: InstrumentationConfig, is_async: bool) -> tuple[Any, Any]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        if args:  # completion(model, messages, ...) given positionally
            kwargs = {**dict(zip(("model", "messages"), args, strict=False)), **kwargs}
        return _request(config, kwargs, Operation.CHAT)

    proxy = AsyncStreamProxy if is_async else StreamProxy
    return extract, _stream_handler(proxy, _chat.handle_response)


def _embeddings_pair(config: InstrumentationConfig, is_async: bool) -> tuple[Any, Any]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        if args:
            kwargs = {**dict(zip(("model", "input"), args, strict=False)), **kwargs}
        return _request(config, kwargs, Operation.EMBEDDINGS)

    return extract, _embeddings.handle_response


HANDLERS: dict[tuple[str, bool], Callable[[InstrumentationConfig], tuple[Any, Any]]] = {
    ("chat", False): lambda config: _chat_pair(config, False),
    ("chat", True): lambda config: _chat_pair(config, True),
    ("embeddings", False): lambda config: _embeddings_pair(config, False),
    ("embeddings", True): lambda config: _embeddings_pair(config, True),
}
