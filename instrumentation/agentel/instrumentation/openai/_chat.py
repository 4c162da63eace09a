"""Chat Completions (``chat.completions.create`` / ``parse``): request, response and stream.

Only duck typing on the SDK's objects, so nothing here imports ``openai`` and a changed
response shape degrades to missing attributes, never to a broken call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .. import _parts as P
from .._call import ProviderCall
from .._common import guarded, log_once, server_attributes
from .._config import InstrumentationConfig
from .._streams import proxy_class
from .._wrappers import LLMRequest

# Span event per tool call the model requested: name, id and type (arguments only with
# content capture, as gen_ai.tool.call.arguments).
TOOL_CALL_EVENT = "tool_call"  # -> "agentel.tool_call"

_SITE = "openai.chat"


# --- request -------------------------------------------------------------------------------------


def number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None  # also drops the SDK's omit / NOT_GIVEN sentinels
    return value


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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


def base_url(instance: Any) -> Any:
    client = getattr(instance, "_client", None)
    return getattr(client, "base_url", None)


def model_of(kwargs: Mapping[str, Any]) -> str | None:
    model = kwargs.get("model")
    return model if isinstance(model, str) and model else None


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [P.text(content)]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, (list, tuple)) else ():
        kind = P.get(part, "type")
        if kind == "text":
            parts.append(P.text(P.get(part, "text")))
        elif kind == "refusal":
            parts.append(P.text(P.get(part, "refusal")))
        elif kind == "image_url":
            url = P.get(P.get(part, "image_url"), "url")
            if isinstance(url, str) and not url.startswith("data:"):
                parts.append({"type": "uri", "modality": "image", "uri": url})
            else:
                parts.append({"type": "blob", "modality": "image"})
        else:
            parts.append({"type": str(kind)})
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]] | None:
    """Chat ``messages`` in the official parts-based shape."""
    if not isinstance(messages, (list, tuple)):
        return None
    out: list[dict[str, Any]] = []
    for message in messages:
        role = P.get(message, "role")
        content = P.get(message, "content")
        if role in ("tool", "function"):
            call_id = P.get(message, "tool_call_id") or P.get(message, "name")
            parts = [P.tool_response(call_id, P.plain_text(content))]
        else:
            parts = _content_parts(content)
            for call in P.get(message, "tool_calls") or ():
                function = P.get(call, "function")
                parts.append(
                    P.tool_call(
                        P.get(call, "id"), P.get(function, "name"), P.get(function, "arguments")
                    )
                )
        out.append({"role": role, "parts": parts})
    return out


def tool_definitions(tools: Any) -> list[dict[str, Any]] | None:
    """Chat ``tools`` flattened to the official ``gen_ai.tool.definitions`` shape."""
    return P.tool_definitions(tools, _tool_definition)


def _tool_definition(tool: Any) -> dict[str, Any]:
    kind = P.get(tool, "type") or "function"
    inner = P.get(tool, kind)
    if inner is None:
        return {"type": kind}
    return P.tool_definition(kind, P.get(inner, "name"), inner)


def _choice_count(value: Any) -> int | None:
    n = integer(value)
    return None if n == 1 else n  # 1 is the default: not recorded


def _service_tier(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "auto" else None


# keyword argument -> (attribute, reader); a reader returns None for values it can't record
_REQUEST_PARAMS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "temperature": (A.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (A.GEN_AI_REQUEST_TOP_P, number),
    "seed": (A.GEN_AI_REQUEST_SEED, integer),
    "stop": (A.GEN_AI_REQUEST_STOP_SEQUENCES, _stop_sequences),
    "frequency_penalty": (A.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "presence_penalty": (A.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    "response_format": (A.GEN_AI_OUTPUT_TYPE, _output_type),
    "max_tokens": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "max_completion_tokens": (A.GEN_AI_REQUEST_MAX_TOKENS, integer),
    "n": (A.GEN_AI_REQUEST_CHOICE_COUNT, _choice_count),
    "service_tier": (A.OPENAI_REQUEST_SERVICE_TIER, _service_tier),
}


USAGE_MISSING_STREAM = "stream_without_include_usage"
"""``agentel.usage.missing`` of a chat stream requested without ``include_usage``."""


def chat_request(
    config: InstrumentationConfig | None,
    instance: Any,
    args: tuple,
    kwargs: Mapping[str, Any],
    *,
    stream_usage: bool = False,
) -> LLMRequest | None:
    """Span name and start attributes for a ``chat.completions.create`` / ``parse`` call."""
    model = kwargs.get("model")  # as model_of(), inline: once per call
    if not isinstance(model, str) or not model:
        model = None
    stream = kwargs.get("stream") is True
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.CHAT,
        A.GEN_AI_PROVIDER_NAME: Provider.OPENAI,
    }
    if model is not None:
        attrs[A.GEN_AI_REQUEST_MODEL] = model
    # one pass over the arguments given (a call passes few of the many parameters)
    for name, raw in kwargs.items():
        param = _REQUEST_PARAMS.get(name)
        if param is not None and raw is not None and (value := param[1](raw)) is not None:
            attrs[param[0]] = value
    if "max_completion_tokens" in kwargs:  # wins over the deprecated max_tokens
        max_tokens = integer(kwargs["max_completion_tokens"])
        if max_tokens is not None:
            attrs[A.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    if stream:
        attrs[A.GEN_AI_REQUEST_STREAM] = True
    attrs.update(server_attributes(getattr(getattr(instance, "_client", None), "base_url", None)))
    # every value above is attribute-safe and not None: no second cleaning pass
    request = LLMRequest(Operation.CHAT, Provider.OPENAI, model, attrs, clean=True)
    if stream:
        options = kwargs.get("stream_options")
        if stream_usage and not isinstance(options, Mapping):
            request.call_kwargs = {**kwargs, "stream_options": {"include_usage": True}}
        elif not (isinstance(options, Mapping) and options.get("include_usage")):
            request.usage_missing = USAGE_MISSING_STREAM
    if config is not None and config.capture_content:
        request.content = {
            A.GEN_AI_INPUT_MESSAGES: input_messages(kwargs.get("messages")),
            A.GEN_AI_TOOL_DEFINITIONS: tool_definitions(kwargs.get("tools")),
        }
    return request


def request_extractor(
    config: InstrumentationConfig, *, stream_usage: bool = False
) -> Callable[[Any, tuple, Mapping[str, Any]], LLMRequest | None]:
    # a partial, not a closure: calling it adds no Python frame to every call
    return partial(chat_request, config, stream_usage=stream_usage)


# --- response ------------------------------------------------------------------------------------


def unwrap_raw(result: Any) -> Any:
    """The parsed body of a ``with_raw_response`` result (already read), else ``result``."""
    # client.*.with_raw_response.create(...) returns a LegacyAPIResponse whose body is already
    # read; parse() caches, so the caller's later parse() gets the same object.
    if type(result).__name__ == "LegacyAPIResponse" and getattr(result, "_stream", True) is False:
        return result.parse()
    return result


def _completion(result: Any) -> Any:
    """The ``ChatCompletion`` in ``result`` (unwrapping ``with_raw_response``), or ``None``."""
    if hasattr(result, "choices"):
        return result
    parsed = unwrap_raw(result)
    return parsed if hasattr(parsed, "choices") else None


def record_metadata(handle: ProviderCall, completion: Any) -> None:
    choices = getattr(completion, "choices", None) or ()
    handle.set_response(
        model=getattr(completion, "model", None),
        id=getattr(completion, "id", None),
        finish_reasons=[getattr(choice, "finish_reason", None) for choice in choices],
    )
    _record_tier(handle, completion)


def _record_tier(handle: ProviderCall, obj: Any) -> None:
    tier = getattr(obj, "service_tier", None)
    if isinstance(tier, str):
        handle.set_attribute(A.OPENAI_RESPONSE_SERVICE_TIER, tier)
    fingerprint = getattr(obj, "system_fingerprint", None)
    if isinstance(fingerprint, str):
        handle.set_attribute(A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, fingerprint)


def record_usage_block(handle: ProviderCall, usage: Any) -> None:
    if usage is None:
        return
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    handle.set_usage(  # set_usage reads each count with as_token_count
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        cache_read_tokens=getattr(prompt_details, "cached_tokens", None),
        cache_write_tokens=getattr(prompt_details, "cache_write_tokens", None),
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", None),
    )


def tool_call_event(handle: Any, name: Any, call_id: Any, kind: Any, args: Any = None) -> None:
    """One ``agentel.tool_call`` span event; ``args`` only when content capture is on."""
    data: dict[str, Any] = {
        A.GEN_AI_TOOL_NAME: name,
        A.GEN_AI_TOOL_CALL_ID: call_id,
        A.GEN_AI_TOOL_TYPE: kind,
    }
    config = getattr(handle, "config", None)
    if args is not None and config is not None and config.capture_content:
        from .._content import encode

        data[A.GEN_AI_TOOL_CALL_ARGUMENTS] = encode(args, config)
    handle.record_event(TOOL_CALL_EVENT, **data)


def record_tool_calls(handle: ProviderCall, completion: Any) -> None:
    """One ``agentel.tool_call`` span event per requested tool call (name, id, type)."""
    for choice in getattr(completion, "choices", None) or ():
        message = getattr(choice, "message", None)
        for call in getattr(message, "tool_calls", None) or ():
            kind = getattr(call, "type", None)
            # function calls carry .function.name, custom tool calls .custom.name
            target = getattr(call, kind, None) if isinstance(kind, str) else None
            args = getattr(target, "arguments", None) or getattr(target, "input", None)
            tool_call_event(
                handle, getattr(target, "name", None), getattr(call, "id", None), kind, args
            )
        legacy = getattr(message, "function_call", None)  # deprecated `functions` API
        if legacy is not None:
            tool_call_event(
                handle,
                getattr(legacy, "name", None),
                None,
                "function",
                getattr(legacy, "arguments", None),
            )


def _output_messages(completion: Any) -> list[dict[str, Any]]:
    out = []
    for choice in getattr(completion, "choices", None) or ():
        message = getattr(choice, "message", None)
        parts = _content_parts(getattr(message, "content", None))
        for call in getattr(message, "tool_calls", None) or ():
            kind = getattr(call, "type", None)
            target = getattr(call, kind, None) if isinstance(kind, str) else None
            args = getattr(target, "arguments", None) or getattr(target, "input", None)
            parts.append(
                P.tool_call(getattr(call, "id", None), getattr(target, "name", None), args)
            )
        out.append(
            {
                "role": getattr(message, "role", None) or "assistant",
                "parts": parts,
                "finish_reason": P.finish_reason(getattr(choice, "finish_reason", None)),
            }
        )
    return out


def handle_response(handle: ProviderCall, result: Any) -> Any:
    """Record a chat completion on ``handle``'s span, or wrap a stream to observe it."""
    proxy = proxy_class(result)
    if proxy is not None:
        return proxy(result, handle, ChatStreamObserver(handle.config.capture_content))
    if hasattr(result, "choices"):
        completion = result
    else:
        try:
            completion = _completion(result)
        except Exception:
            log_once(f"{_SITE}.completion", "could not unwrap the chat completion")
            return None
        if completion is None:
            return None
    record_completion(handle, completion)
    if handle.config.capture_content:
        with guarded(f"{_SITE}.content", "read the output messages"):
            handle.add_content(A.GEN_AI_OUTPUT_MESSAGES, _output_messages(completion))
    return None


def record_completion(handle: ProviderCall, completion: Any) -> None:
    """Metadata, usage and requested tool calls of a ``ChatCompletion``, read in one pass.

    Each part on its own (one that fails still lets the others record), written out in one
    function: this is the per-call hot path.
    """
    choices = getattr(completion, "choices", None) or ()
    try:
        handle.set_response(
            model=getattr(completion, "model", None),
            id=getattr(completion, "id", None),
            finish_reasons=[getattr(choice, "finish_reason", None) for choice in choices],
        )
        # OpenAI-only fields: read from the instance's fields where it has them, as LiteLLM's
        # response lacks service_tier and pydantic answers a missing name with an exception
        fields = getattr(completion, "__dict__", None)
        if fields is None or fields.get("service_tier") or fields.get("system_fingerprint"):
            _record_tier(handle, completion)
    except Exception:
        log_once(f"{_SITE}.metadata", "could not read the response metadata")
    try:
        usage = getattr(completion, "usage", None)
        if usage is not None:
            record_usage_block(handle, usage)
    except Exception:
        log_once(f"{_SITE}.usage", "could not read the token usage")
    try:
        for choice in choices:
            message = getattr(choice, "message", None)
            if getattr(message, "tool_calls", None) or getattr(message, "function_call", None):
                record_tool_calls(handle, completion)
                break
    except Exception:
        log_once(f"{_SITE}.tool_calls", "could not read the requested tool calls")


def proxy_stream(handle: ProviderCall, result: Any, observer: Callable[[bool], Any]) -> Any:
    """A stream proxy for an SDK ``Stream`` / ``AsyncStream`` result, else ``None``."""
    proxy = proxy_class(result)
    return None if proxy is None else proxy(result, handle, observer(handle.capture_content))


# --- streams ---------------------------------------------------------------------------------------


class ChatStreamObserver:
    """Running state of a streamed chat completion (constant size unless capturing content)."""

    __slots__ = (
        "calls",
        "capture",
        "fingerprint",
        "id",
        "model",
        "output",
        "reasons",
        "texts",
        "tier",
        "usage",
    )

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.id: Any = None
        self.model: Any = None
        self.tier: Any = None
        self.fingerprint: Any = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        # (choice index, tool call index) -> [id, name, type, argument pieces or None]
        self.calls: dict[tuple[int, int], list[Any]] = {}
        self.texts: dict[int, list[str]] = {}
        self.output = False  # a delta with text, tool calls or a refusal has arrived

    def on_chunk(self, chunk: Any) -> None:
        if self.id is None:
            self.id = chunk.id
            self.model = chunk.model
            self.tier = getattr(chunk, "service_tier", None)
            self.fingerprint = getattr(chunk, "system_fingerprint", None)
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            index = choice.index
            if choice.finish_reason:
                self.reasons[index] = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            tool_calls = delta.tool_calls
            if tool_calls:
                self.output = True
                self._tool_calls(index, tool_calls)
            elif not self.output and (delta.content or getattr(delta, "refusal", None)):
                self.output = True
            if self.capture and delta.content:
                self.texts.setdefault(index, []).append(delta.content)

    def _tool_calls(self, index: int, tool_calls: Any) -> None:
        for call in tool_calls:
            key = (index, call.index)
            function = call.function
            entry = self.calls.get(key)
            if entry is None:
                entry = self.calls[key] = [None, None, None, [] if self.capture else None]
            if call.id:
                entry[0] = call.id
            if call.type:
                entry[2] = call.type
            if function is not None:
                if function.name:
                    entry[1] = function.name
                if entry[3] is not None and function.arguments:
                    entry[3].append(function.arguments)

    def finish(self, call: ProviderCall) -> None:
        call.set_response(
            model=self.model,
            id=self.id,
            finish_reasons=[self.reasons[i] for i in sorted(self.reasons)]
            if self.reasons
            else None,
        )
        _record_tier(call, self)
        record_usage_block(call, self.usage)
        for key in sorted(self.calls):
            call_id, name, kind, pieces = self.calls[key]
            args = "".join(pieces) if pieces is not None else None
            tool_call_event(call, name, call_id, kind or "function", args)
        if self.capture:
            call.add_content(A.GEN_AI_OUTPUT_MESSAGES, self._output_messages())

    @property
    def service_tier(self) -> Any:
        return self.tier

    @property
    def system_fingerprint(self) -> Any:
        return self.fingerprint

    def _output_messages(self) -> list[dict[str, Any]]:
        indexes = sorted(set(self.texts) | set(self.reasons) | {i for i, _ in self.calls})
        out = []
        for index in indexes:
            parts: list[dict[str, Any]] = []
            if index in self.texts:
                parts.append(P.text("".join(self.texts[index])))
            for key in sorted(k for k in self.calls if k[0] == index):
                call_id, name, _, pieces = self.calls[key]
                parts.append(P.tool_call(call_id, name, "".join(pieces or ())))
            out.append(
                {
                    "role": "assistant",
                    "parts": parts,
                    "finish_reason": P.finish_reason(self.reasons.get(index)),
                }
            )
        return out
