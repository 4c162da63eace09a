"""Mistral chat and embeddings: the OpenAI-shaped readers, with Mistral's names and values.

Mistral answers in the chat-completions shape, so the OpenAI chat readers record it; the
differences handled here: ``random_seed`` is the seed, the SDK's ``UNSET`` sentinel (falsy)
stands for absent values, usage details may be plain dicts, and a stream yields events
whose ``.data`` is the chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .. import _parts as P
from .._call import ProviderCall
from .._common import as_token_count, log_once, server_attributes
from .._config import InstrumentationConfig
from .._streams import proxy_class
from .._wrappers import LLMRequest
from ..openai import _chat

_SITE = "mistralai"


def _server(instance: Any) -> Any:
    return getattr(getattr(instance, "sdk_configuration", None), "server_url", None)


def chat_request(
    config: InstrumentationConfig, instance: Any, kwargs: Mapping[str, Any], stream: bool
) -> LLMRequest | None:
    given = {k: v for k, v in kwargs.items() if v}  # UNSET / None dropped
    if "random_seed" in kwargs:
        given["seed"] = kwargs["random_seed"]
    if stream:
        given["stream"] = True
    request = _chat.chat_request(config, None, (), given)
    if request is None:
        return None
    attrs = dict(request.attributes)
    attrs[A.GEN_AI_PROVIDER_NAME] = Provider.MISTRAL_AI
    attrs.update(server_attributes(_server(instance)))
    request.attributes = attrs
    request.provider = Provider.MISTRAL_AI
    return request


def _extra(obj: Any, name: str) -> Any:
    """An optional field Mistral sends as a pydantic extra (``prompt_tokens_details``...).

    Read from the model's fields or extras, not ``getattr``: pydantic answers a name it
    does not have with an exception, a cost on every call where the field is absent.
    """
    found = getattr(obj, "__dict__", {}).get(name)
    if found is None:
        extra = getattr(obj, "__pydantic_extra__", None)
        if extra:
            found = extra.get(name)
    return found


def record_usage(call: ProviderCall, usage: Any) -> None:
    if not usage:
        return
    prompt_details = _extra(usage, "prompt_tokens_details")
    output_details = _extra(usage, "completion_tokens_details")
    call.set_usage(
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        cache_read_tokens=P.get(prompt_details, "cached_tokens") if prompt_details else None,
        reasoning_tokens=P.get(output_details, "reasoning_tokens") if output_details else None,
    )


def record_metadata(call: ProviderCall, result: Any) -> None:
    """Model, id and finish reasons (Mistral has no OpenAI service tier or fingerprint)."""
    call.set_response(
        model=getattr(result, "model", None),
        id=getattr(result, "id", None),
        finish_reasons=[getattr(c, "finish_reason", None) for c in result.choices or ()],
    )


def handle_response(call: ProviderCall, result: Any) -> Any:
    proxy = proxy_class(result)
    if proxy is not None:
        return proxy(result, call, MistralStreamObserver(call.capture_content))
    if not hasattr(result, "choices"):
        return None
    try:
        record_metadata(call, result)
    except Exception:
        log_once(f"{_SITE}.response", "could not read the response metadata")
    try:
        record_usage(call, getattr(result, "usage", None))
    except Exception:
        log_once(f"{_SITE}.response", "could not read the token usage")
    try:
        if any(getattr(c.message, "tool_calls", None) for c in result.choices or ()):
            _chat.record_tool_calls(call, result)
    except Exception:
        log_once(f"{_SITE}.response", "could not read the tool calls")
    if call.capture_content:
        try:
            call.add_content(A.GEN_AI_OUTPUT_MESSAGES, _chat._output_messages(result))
        except Exception:
            log_once(f"{_SITE}.content", "could not read the output messages")
    return None


class MistralStreamObserver(_chat.ChatStreamObserver):
    """The chat stream observer over Mistral's events (``event.data`` is the chunk)."""

    __slots__ = ()

    def on_chunk(self, event: Any) -> None:
        chunk = getattr(event, "data", event)
        if self.id is None:
            self.id = chunk.id
            self.model = chunk.model
        if chunk.usage:
            self.usage = chunk.usage
        for choice in chunk.choices or ():
            index = choice.index or 0
            if choice.finish_reason:
                self.reasons[index] = choice.finish_reason
            delta = choice.delta
            if not delta:
                continue
            if delta.tool_calls:
                for position, call in enumerate(delta.tool_calls):
                    if not isinstance(call.index, int):
                        call.index = position
                self._tool_calls(index, delta.tool_calls)
                self.output = True  # time to first chunk is taken at the first output delta
            if isinstance(delta.content, str) and delta.content:
                self.output = True
                if self.capture:
                    self.texts.setdefault(index, []).append(delta.content)

    def finish(self, call: ProviderCall) -> None:
        usage, self.usage = self.usage, None
        super().finish(call)
        record_usage(call, usage)


def embeddings_request(
    config: InstrumentationConfig, instance: Any, kwargs: Mapping[str, Any]
) -> LLMRequest | None:
    model = _chat.model_of(kwargs)
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.EMBEDDINGS,
        A.GEN_AI_PROVIDER_NAME: Provider.MISTRAL_AI,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: _chat.integer(kwargs.get("output_dimension")),
    }
    attrs.update(server_attributes(_server(instance)))
    return LLMRequest(Operation.EMBEDDINGS, Provider.MISTRAL_AI, model, attrs)


def handle_embeddings(call: ProviderCall, result: Any) -> None:
    try:
        call.set_response(model=getattr(result, "model", None) or None)
        usage = getattr(result, "usage", None)
        call.set_usage(input_tokens=as_token_count(getattr(usage, "prompt_tokens", None)))
    except Exception:
        log_once(f"{_SITE}.embeddings", "could not read the embeddings response")


def _pair(make: Callable[..., LLMRequest | None], handle: Any, **options: Any) -> Callable:
    def build(config: InstrumentationConfig) -> tuple[Any, Any]:
        def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
            return make(config, instance, kwargs, **options)

        return extract, handle

    return build


HANDLERS: dict[str, Callable[[InstrumentationConfig], tuple[Any, Any]]] = {
    "chat": _pair(chat_request, handle_response, stream=False),
    "stream": _pair(chat_request, handle_response, stream=True),
    "embeddings": _pair(embeddings_request, handle_embeddings),
}
