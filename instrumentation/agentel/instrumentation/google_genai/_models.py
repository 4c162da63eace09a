"""Gemini ``generate_content`` / ``embed_content``: request, response and stream.

Token mapping (official GenAI convention: input includes cached, output includes reasoning):

- ``gen_ai.usage.input_tokens`` = ``prompt_token_count + tool_use_prompt_token_count``
  (the prompt count already includes ``cached_content_token_count``);
- ``gen_ai.usage.cache_read.input_tokens`` = ``cached_content_token_count``;
- ``gen_ai.usage.output_tokens`` = ``candidates_token_count + thoughts_token_count``
  (Gemini reports the thinking tokens beside the candidates and bills them as output);
- ``gen_ai.usage.reasoning.output_tokens`` = ``thoughts_token_count``.

Finish reasons are recorded lower-cased (``STOP`` -> ``stop``). Duck typing only: nothing
here imports ``google.genai``, and config / contents may be SDK objects or plain dicts.
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
from ..openai._chat import integer, number, tool_call_event

_SITE = "google_genai"


def _field(obj: Any, snake: str, camel: str | None = None) -> Any:
    """A config / content field given as an SDK object or a dict in either spelling."""
    value = P.get(obj, snake)
    if value is None and camel is not None and isinstance(obj, Mapping):
        value = obj.get(camel)
    return value


def model_name(model: Any) -> str | None:
    """The model id without the ``models/`` resource prefix of the Gemini API."""
    if not isinstance(model, str) or not model:
        return None
    return model[7:] if model.startswith("models/") else model


def _base_url(instance: Any) -> Any:
    options = getattr(getattr(instance, "_api_client", None), "_http_options", None)
    return getattr(options, "base_url", None)


def _stop_sequences(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _choice_count(value: Any) -> int | None:
    n = integer(value)
    return None if n == 1 else n


def _output_type(mime: Any) -> str | None:
    if mime == "application/json":
        return "json"
    if mime == "text/plain":
        return "text"
    return None


# config field -> (camelCase spelling, attribute, reader)
_CONFIG_PARAMS: tuple[tuple[str, str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "temperature", A.GEN_AI_REQUEST_TEMPERATURE, number),
    ("top_p", "topP", A.GEN_AI_REQUEST_TOP_P, number),
    ("top_k", "topK", A.GEN_AI_REQUEST_TOP_K, number),
    ("max_output_tokens", "maxOutputTokens", A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    ("stop_sequences", "stopSequences", A.GEN_AI_REQUEST_STOP_SEQUENCES, _stop_sequences),
    ("presence_penalty", "presencePenalty", A.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    ("frequency_penalty", "frequencyPenalty", A.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    ("seed", "seed", A.GEN_AI_REQUEST_SEED, integer),
    ("candidate_count", "candidateCount", A.GEN_AI_REQUEST_CHOICE_COUNT, _choice_count),
    ("response_mime_type", "responseMimeType", A.GEN_AI_OUTPUT_TYPE, _output_type),
)


_CONFIG_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    name: (key, read) for snake, camel, key, read in _CONFIG_PARAMS for name in (snake, camel)
}


# --- content -------------------------------------------------------------------------------------


def _part(part: Any) -> dict[str, Any]:
    """One Gemini part in the official shape."""
    if isinstance(part, str):
        return P.text(part)
    text = _field(part, "text")
    if isinstance(text, str):
        if _field(part, "thought") is True:
            return {"type": "reasoning", "content": text}
        return P.text(text)
    call = _field(part, "function_call", "functionCall")
    if call is not None:
        return P.tool_call(_field(call, "id"), _field(call, "name"), _field(call, "args"))
    response = _field(part, "function_response", "functionResponse")
    if response is not None:
        key = _field(response, "id") or _field(response, "name")
        return P.tool_response(key, _field(response, "response"))
    for kind, camel in (("inline_data", "inlineData"), ("file_data", "fileData")):
        blob = _field(part, kind, camel)
        if blob is not None:
            mime = _field(blob, "mime_type", "mimeType")
            modality = mime.split("/", 1)[0] if isinstance(mime, str) else None
            entry = {"type": "blob" if kind == "inline_data" else "uri", "modality": modality}
            uri = _field(blob, "file_uri", "fileUri")
            if isinstance(uri, str):
                entry["uri"] = uri
            return entry
    return {"type": "other"}


def _is_content(item: Any) -> bool:
    return _field(item, "parts") is not None or _field(item, "role") is not None


def _message(content: Any, default_role: str = "user") -> dict[str, Any]:
    role = _field(content, "role") or default_role
    return {
        "role": "assistant" if role == "model" else role,
        "parts": [_part(p) for p in _field(content, "parts") or ()],
    }


def input_messages(contents: Any) -> list[dict[str, Any]] | None:
    """``contents`` (a string, parts, ``Content`` objects or dicts) as official messages."""
    if contents is None:
        return None
    if isinstance(contents, str) or not isinstance(contents, (list, tuple)):
        contents = [contents]
    out: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []  # bare parts / strings form one user message
    for item in contents:
        if not isinstance(item, str) and _is_content(item):
            if loose:
                out.append({"role": "user", "parts": loose})
                loose = []
            out.append(_message(item))
        else:
            loose.append(_part(item))
    if loose:
        out.append({"role": "user", "parts": loose})
    return out


def system_instructions(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [P.text(value)]
    if not isinstance(value, (list, tuple)) and _is_content(value):
        return [_part(p) for p in _field(value, "parts") or ()]
    return [_part(p) for p in (value if isinstance(value, (list, tuple)) else [value])]


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """``config.tools`` flattened: one entry per function declaration or built-in tool."""
    if not isinstance(tools, (list, tuple)) or not tools:
        return None
    out: list[dict[str, Any]] = []
    for tool in tools:
        if callable(tool) and not isinstance(tool, Mapping) and hasattr(tool, "__name__"):
            entry: dict[str, Any] = {"type": "function", "name": tool.__name__}
            if tool.__doc__:
                entry["description"] = tool.__doc__.strip()
            out.append(entry)
            continue
        declarations = _field(tool, "function_declarations", "functionDeclarations")
        for declaration in declarations or ():
            parameters = _field(declaration, "parameters") or _field(
                declaration, "parameters_json_schema", "parametersJsonSchema"
            )
            if hasattr(parameters, "model_dump"):
                parameters = parameters.model_dump(exclude_none=True, mode="json")
            entry = {"type": "function", "name": _field(declaration, "name")}
            description = _field(declaration, "description")
            if description is not None:
                entry["description"] = description
            if parameters is not None:
                entry["parameters"] = parameters
            out.append(entry)
        fields = tool.model_fields_set if hasattr(tool, "model_fields_set") else tool
        for name in fields if isinstance(fields, (set, Mapping)) else ():
            if name not in ("function_declarations", "functionDeclarations") and (
                P.get(tool, name) is not None
            ):
                out.append({"type": name})
    return out or None


# --- request -------------------------------------------------------------------------------------


def content_request(
    config: InstrumentationConfig,
    instance: Any,
    kwargs: Mapping[str, Any],
    *,
    stream: bool,
) -> LLMRequest:
    """Span name and start attributes for one ``generateContent`` request."""
    model = model_name(kwargs.get("model"))
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.GENERATE_CONTENT,
        A.GEN_AI_PROVIDER_NAME: Provider.GCP_GEN_AI,
    }
    if model is not None:
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    options = kwargs.get("config")
    if type(options) is dict:  # one pass over the keys given, in either spelling
        for name, raw in options.items():
            param = _CONFIG_KEYS.get(name)
            if param is not None and raw is not None and (value := param[1](raw)) is not None:
                attrs[param[0]] = value
    elif options is not None:  # a GenerateContentConfig: plain attribute reads
        for snake, _, key, read in _CONFIG_PARAMS:
            raw = getattr(options, snake, None)
            if raw is not None and (value := read(raw)) is not None:
                attrs[key] = value
    if stream:
        attrs[A.GEN_AI_REQUEST_STREAM] = True
    attrs.update(server_attributes(_base_url(instance)))
    request = LLMRequest(Operation.GENERATE_CONTENT, Provider.GCP_GEN_AI, model, attrs, clean=True)
    if config.capture_content:
        request.content = {
            A.GEN_AI_INPUT_MESSAGES: input_messages(kwargs.get("contents")),
            A.GEN_AI_SYSTEM_INSTRUCTIONS: system_instructions(
                _field(options, "system_instruction", "systemInstruction")
            ),
            A.GEN_AI_TOOL_DEFINITIONS: tool_definitions(_field(options, "tools")),
        }
    return request


def request_extractor(
    config: InstrumentationConfig, *, stream: bool = False
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return content_request(config, instance, kwargs, stream=stream)

    return extract


# --- response ------------------------------------------------------------------------------------


def _reason(candidate: Any) -> str | None:
    reason = getattr(candidate, "finish_reason", None)
    reason = getattr(reason, "value", reason)
    return reason.lower() if isinstance(reason, str) else None


def usage_counts(usage: Any) -> tuple[int | None, int | None, int | None, int | None]:
    """(input, output, cache read, reasoning) tokens of a ``usage_metadata`` block."""
    if usage is None:
        return None, None, None, None
    prompt = as_token_count(getattr(usage, "prompt_token_count", None))
    tool_prompt = as_token_count(getattr(usage, "tool_use_prompt_token_count", None))
    candidates = as_token_count(getattr(usage, "candidates_token_count", None))
    thoughts = as_token_count(getattr(usage, "thoughts_token_count", None))
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
    return (
        None if prompt is None else prompt + (tool_prompt or 0),
        output,
        as_token_count(getattr(usage, "cached_content_token_count", None)),
        thoughts,
    )


def record_usage(call: ProviderCall, usage: Any) -> None:
    input_tokens, output_tokens, cached, reasoning = usage_counts(usage)
    call.set_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


def _function_calls(candidate: Any) -> list[Any]:
    parts = getattr(getattr(candidate, "content", None), "parts", None) or ()
    return [p.function_call for p in parts if getattr(p, "function_call", None) is not None]


def _output_message(parts: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    return {"role": "assistant", "parts": parts, "finish_reason": P.finish_reason(reason)}


def record_response(call: ProviderCall, response: Any) -> None:
    candidates = getattr(response, "candidates", None) or ()
    call.set_response(
        model=model_name(getattr(response, "model_version", None)),
        id=getattr(response, "response_id", None),
        finish_reasons=[_reason(c) for c in candidates] if candidates else None,
    )
    try:
        record_usage(call, getattr(response, "usage_metadata", None))
    except Exception:
        log_once(f"{_SITE}.usage", "could not read the token usage")
    for candidate in candidates:
        for fc in _function_calls(candidate):
            tool_call_event(call, fc.name, getattr(fc, "id", None), "function", fc.args)
    if call.capture_content:
        call.add_content(
            A.GEN_AI_OUTPUT_MESSAGES,
            [
                _output_message(
                    [_part(p) for p in getattr(getattr(c, "content", None), "parts", None) or ()],
                    _reason(c),
                )
                for c in candidates
            ],
        )


def handle_response(call: ProviderCall, result: Any) -> Any:
    """Record a ``GenerateContentResponse``, or wrap a stream of them."""
    proxy = proxy_class(result)
    if proxy is not None:
        return proxy(result, call, ContentStreamObserver(call.capture_content))
    try:
        record_response(call, result)
    except Exception:
        log_once(f"{_SITE}.response", "could not read the response")
    return None


def _add(total: list[int | None], counts: tuple[int | None, ...]) -> None:
    for i, count in enumerate(counts):
        if count is not None:
            total[i] = (total[i] or 0) + count


class ContentStreamObserver:
    """Running state of a ``generate_content_stream`` stream (constant size without content).

    Every chunk is a partial ``GenerateContentResponse``: the latest usage block holds the
    totals of its request, finish reasons arrive on the last chunk, function calls arrive
    whole. A new ``response_id`` starts the next request of the same stream (automatic
    function calling, continuation): the usage of the one before is banked first.
    """

    __slots__ = ("banked", "calls", "capture", "id", "model", "reasons", "texts", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: Any = None
        self.model: Any = None
        self.usage: Any = None
        self.banked: list[int | None] | None = None
        self.reasons: dict[int, str | None] = {}
        self.calls: list[tuple[int, Any]] = []
        self.texts: dict[int, list[dict[str, Any]]] = {}

    def on_chunk(self, chunk: Any) -> None:
        response_id = chunk.response_id
        if response_id != self.id:
            if self.usage is not None:
                if self.banked is None:
                    self.banked = [None, None, None, None]
                _add(self.banked, usage_counts(self.usage))
                self.usage = None
            self.id = response_id
            self.model = chunk.model_version
        usage = chunk.usage_metadata
        if usage is not None:
            self.usage = usage
        for position, candidate in enumerate(chunk.candidates or ()):
            index = candidate.index if isinstance(candidate.index, int) else position
            if candidate.finish_reason is not None:
                self.reasons[index] = _reason(candidate)
            content = candidate.content
            for part in (content.parts if content is not None else None) or ():
                if part.function_call is not None:
                    self.calls.append((index, part.function_call))
                if self.capture:
                    self._keep(index, _part(part))

    def _keep(self, index: int, part: dict[str, Any]) -> None:
        parts = self.texts.setdefault(index, [])
        last = parts[-1] if parts else None
        if last is not None and last["type"] == part["type"] and "content" in part:
            last["content"] = (last["content"] or "") + (part["content"] or "")
        else:
            parts.append(part)

    def finish(self, call: ProviderCall) -> None:
        call.set_response(
            model=model_name(self.model),
            id=self.id,
            finish_reasons=[self.reasons[i] for i in sorted(self.reasons)]
            if self.reasons
            else None,
        )
        counts = usage_counts(self.usage)
        if self.banked is not None:
            total = list(self.banked)
            _add(total, counts)
            counts = (total[0], total[1], total[2], total[3])
        call.set_usage(
            input_tokens=counts[0],
            output_tokens=counts[1],
            cache_read_tokens=counts[2],
            reasoning_tokens=counts[3],
        )
        for _, fc in self.calls:
            tool_call_event(call, fc.name, getattr(fc, "id", None), "function", fc.args)
        if self.capture:
            indexes = sorted(set(self.texts) | set(self.reasons))
            call.add_content(
                A.GEN_AI_OUTPUT_MESSAGES,
                [_output_message(self.texts.get(i, []), self.reasons.get(i)) for i in indexes],
            )


# --- embeddings ----------------------------------------------------------------------------------


def embeddings_request(
    config: InstrumentationConfig, instance: Any, kwargs: Mapping[str, Any]
) -> LLMRequest:
    model = model_name(kwargs.get("model"))
    options = kwargs.get("config")
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.EMBEDDINGS,
        A.GEN_AI_PROVIDER_NAME: Provider.GCP_GEN_AI,
        A.GEN_AI_REQUEST_MODEL: model,
        A.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: integer(
            _field(options, "output_dimensionality", "outputDimensionality")
        ),
    }
    attrs.update(server_attributes(_base_url(instance)))
    return LLMRequest(Operation.EMBEDDINGS, Provider.GCP_GEN_AI, model, attrs)


def embeddings_extractor(
    config: InstrumentationConfig,
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    def extract(instance: Any, args: tuple, kwargs: Mapping[str, Any]) -> LLMRequest | None:
        return embeddings_request(config, instance, kwargs)

    return extract


def handle_embeddings(call: ProviderCall, result: Any) -> None:
    """Token counts where the API reports them (Vertex AI: per-embedding statistics)."""
    try:
        total = 0
        counted = False
        for embedding in getattr(result, "embeddings", None) or ():
            stats = getattr(embedding, "statistics", None)
            count = as_token_count(getattr(stats, "token_count", None))
            if count is not None:
                total += count
                counted = True
        usage = getattr(result, "usage_metadata", None)
        prompt = as_token_count(getattr(usage, "prompt_token_count", None))
        if prompt is not None:
            call.set_usage(input_tokens=prompt)
        elif counted:
            call.set_usage(input_tokens=total)
    except Exception:
        log_once(f"{_SITE}.embeddings", "could not read the embeddings response")
    return None
