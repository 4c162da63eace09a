"""Embeddings (``embeddings.create``): ``embeddings {model}`` spans with input token usage."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .._call import ProviderCall
from .._common import as_token_count, guarded, server_attributes
from .._config import InstrumentationConfig
from .._wrappers import LLMRequest
from ._chat import base_url, integer, model_of, unwrap_raw

# Official GenAI keys not (yet) in agentel.semconv.attributes.


def embeddings_request(
    config: InstrumentationConfig, instance: Any, args: tuple, kwargs: Mapping[str, Any]
) -> LLMRequest | None:
    model = model_of(kwargs)
    encoding = kwargs.get("encoding_format")
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.EMBEDDINGS,
        A.GEN_AI_PROVIDER_NAME: Provider.OPENAI,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_REQUEST_ENCODING_FORMATS: (encoding,) if isinstance(encoding, str) else None,
        A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: integer(kwargs.get("dimensions")),
    }
    attrs.update(server_attributes(base_url(instance)))
    return LLMRequest(Operation.EMBEDDINGS, Provider.OPENAI, model, attrs)


def request_extractor(
    config: InstrumentationConfig,
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return embeddings_request(config, instance, args, kwargs)

    return extract


def handle_response(call: ProviderCall, result: Any) -> None:
    with guarded("openai.embeddings.response", "read the embeddings response"):
        response = unwrap_raw(result)
        call.set_response(model=getattr(response, "model", None))
        usage = getattr(response, "usage", None)
        call.set_usage(input_tokens=as_token_count(getattr(usage, "prompt_tokens", None)))
    return None
