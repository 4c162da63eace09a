"""Chat Completions (``client.chat.completions.create``): request and response extraction.

Only duck typing on the SDK's objects, so nothing here imports ``openai`` and a changed
response shape degrades to missing attributes, never to a broken call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .._common import as_token_count, guarded, server_attributes, set_attribute
from .._config import InstrumentationConfig
from .._handles import LLMHandle
from .._wrappers import LLMRequest

# Official OTel keys that agentel.semconv.attributes doesn't list (yet).
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

# Span event per tool call the model requested: name, id and type only (arguments are content).
TOOL_CALL_EVENT = "tool_call"  # -> "agentel.tool_call"

_SITE = "openai.chat"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # also drops the SDK's omit / NOT_GIVEN sentinels
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _max_tokens(kwargs: Mapping[str, Any]) -> int | None:
    value = _int(kwargs.get("max_completion_tokens"))
    return value if value is not None else _int(kwargs.get("max_tokens"))


def _stop_sequences(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _output_type(response_format: Any) -> str | None:
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    if isinstance(response_format, type):  # pydantic model class (parse helpers)
        return "json"
    return None


def _base_url(instance: Any) -> Any:
    client = getattr(instance, "_client", None)
    return getattr(client, "base_url", None)


def chat_request(
    config: InstrumentationConfig, instance: Any, args: tuple, kwargs: Mapping[str, Any]
) -> LLMRequest | None:
    """Span name and start attributes for a ``chat.completions.create`` call."""
    if kwargs.get("stream"):
        return None  # streaming is passed through untouched for now
    model = kwargs.get("model")
    model = model if isinstance(model, str) and model else None
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.CHAT,
        A.GEN_AI_PROVIDER_NAME: Provider.OPENAI,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_REQUEST_TEMPERATURE: _number(kwargs.get("temperature")),
        A.GEN_AI_REQUEST_TOP_P: _number(kwargs.get("top_p")),
        A.GEN_AI_REQUEST_MAX_TOKENS: _max_tokens(kwargs),
        A.GEN_AI_REQUEST_SEED: _int(kwargs.get("seed")),
        A.GEN_AI_REQUEST_STOP_SEQUENCES: _stop_sequences(kwargs.get("stop")),
        GEN_AI_REQUEST_FREQUENCY_PENALTY: _number(kwargs.get("frequency_penalty")),
        GEN_AI_REQUEST_PRESENCE_PENALTY: _number(kwargs.get("presence_penalty")),
        A.GEN_AI_OUTPUT_TYPE: _output_type(kwargs.get("response_format")),
    }
    n = _int(kwargs.get("n"))
    if n is not None and n != 1:
        attrs[A.GEN_AI_REQUEST_CHOICE_COUNT] = n
    tier = kwargs.get("service_tier")
    if isinstance(tier, str) and tier != "auto":
        attrs[OPENAI_REQUEST_SERVICE_TIER] = tier
    attrs.update(server_attributes(_base_url(instance)))
    return LLMRequest(Operation.CHAT, Provider.OPENAI, model, attrs)


def request_extractor(
    config: InstrumentationConfig,
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return chat_request(config, instance, args, kwargs)

    return extract


def _completion(result: Any) -> Any:
    """The ``ChatCompletion`` in ``result`` (unwrapping ``with_raw_response``), or ``None``."""
    if hasattr(result, "choices"):
        return result
    # client.chat.completions.with_raw_response.create(...) returns a LegacyAPIResponse whose
    # body is already read; parse() caches, so the caller's later parse() gets the same object.
    if type(result).__name__ == "LegacyAPIResponse" and getattr(result, "_stream", True) is False:
        parsed = result.parse()
        return parsed if hasattr(parsed, "choices") else None
    return None  # e.g. with_streaming_response: body not read yet, leave it alone


def record_metadata(handle: LLMHandle, completion: Any) -> None:
    choices = getattr(completion, "choices", None) or ()
    handle.set_response(
        model=getattr(completion, "model", None),
        id=getattr(completion, "id", None),
        finish_reasons=[getattr(choice, "finish_reason", None) for choice in choices],
    )
    tier = getattr(completion, "service_tier", None)
    if isinstance(tier, str):
        set_attribute(handle.span, OPENAI_RESPONSE_SERVICE_TIER, tier)
    fingerprint = getattr(completion, "system_fingerprint", None)
    if isinstance(fingerprint, str):
        set_attribute(handle.span, OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)


def record_usage(handle: LLMHandle, completion: Any) -> None:
    usage = getattr(completion, "usage", None)
    if usage is None:
        return
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    handle.set_usage(
        input_tokens=as_token_count(getattr(usage, "prompt_tokens", None)),
        output_tokens=as_token_count(getattr(usage, "completion_tokens", None)),
        cache_read_tokens=as_token_count(getattr(prompt_details, "cached_tokens", None)),
        cache_write_tokens=as_token_count(getattr(prompt_details, "cache_write_tokens", None)),
        reasoning_tokens=as_token_count(getattr(completion_details, "reasoning_tokens", None)),
    )


def record_tool_calls(handle: LLMHandle, completion: Any) -> None:
    """One ``agentel.tool_call`` span event per requested tool call (name, id, type)."""
    for choice in getattr(completion, "choices", None) or ():
        message = getattr(choice, "message", None)
        for call in getattr(message, "tool_calls", None) or ():
            kind = getattr(call, "type", None)
            # function calls carry .function.name, custom tool calls .custom.name
            target = getattr(call, kind, None) if isinstance(kind, str) else None
            handle.record_event(
                TOOL_CALL_EVENT,
                **{
                    A.GEN_AI_TOOL_NAME: getattr(target, "name", None),
                    A.GEN_AI_TOOL_CALL_ID: getattr(call, "id", None),
                    A.GEN_AI_TOOL_TYPE: kind,
                },
            )
        legacy = getattr(message, "function_call", None)  # deprecated `functions` API
        if legacy is not None:
            handle.record_event(
                TOOL_CALL_EVENT,
                **{
                    A.GEN_AI_TOOL_NAME: getattr(legacy, "name", None),
                    A.GEN_AI_TOOL_TYPE: "function",
                },
            )


def handle_response(handle: LLMHandle, result: Any) -> None:
    """Record a non-streaming chat completion on ``handle``'s span; the wrapper ends it."""
    completion = None
    with guarded(f"{_SITE}.completion", "unwrap the chat completion"):
        completion = _completion(result)
    if completion is None:
        return None
    with guarded(f"{_SITE}.metadata", "read the response metadata"):
        record_metadata(handle, completion)
    with guarded(f"{_SITE}.usage", "read the token usage"):
        record_usage(handle, completion)
    with guarded(f"{_SITE}.tool_calls", "read the requested tool calls"):
        record_tool_calls(handle, completion)
    return None
