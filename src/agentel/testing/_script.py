"""Scripted replies, deterministic token estimation and the AUTO reply policy.

Everything here is pure (no I/O) so tests can compute the numbers the server will send.
See :mod:`agentel.testing` for the token formula.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import string
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Api = str
"""The name of a wire format registered in :mod:`agentel.testing._wire` ("chat", "responses",
"anthropic", ...)."""

TRUNCATE_REPLY = 200
"""AUTO text replies quote at most this many characters of the user message / tool result."""

TRUNCATE_ARGUMENT = 40
"""AUTO string arguments fall back to the user message truncated to this many characters."""


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Usage:
    """Token usage of one scripted reply, in OpenTelemetry's convention.

    ``input_tokens`` INCLUDES ``cached_tokens`` and ``cache_write_tokens``;
    ``output_tokens`` INCLUDES ``reasoning_tokens``. The server maps it to each wire format.
    """

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def to_chat_usage(self) -> dict[str, Any]:
        """The ``usage`` object of an OpenAI chat completion."""
        prompt_details: dict[str, int] = {"cached_tokens": self.cached_tokens, "audio_tokens": 0}
        if self.cache_write_tokens:
            prompt_details["cache_write_tokens"] = self.cache_write_tokens
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": prompt_details,
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def to_responses_usage(self) -> dict[str, Any]:
        """The ``usage`` object of an OpenAI Responses API response."""
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {
                "cached_tokens": self.cached_tokens,
                "cache_write_tokens": self.cache_write_tokens,
            },
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
            "total_tokens": self.total_tokens,
        }

    def to_anthropic_usage(self) -> dict[str, Any]:
        """The ``usage`` object of an Anthropic message (its input excludes cache tokens)."""
        uncached = max(0, self.input_tokens - self.cached_tokens - self.cache_write_tokens)
        usage: dict[str, Any] = {
            "input_tokens": uncached,
            "cache_creation_input_tokens": self.cache_write_tokens,
            "cache_read_input_tokens": self.cached_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_tokens,
                "ephemeral_1h_input_tokens": 0,
            },
            "output_tokens": self.output_tokens,
            "service_tier": "standard",
        }
        if self.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": self.reasoning_tokens}
        return usage


@dataclass
class ToolCall:
    """A tool call the scripted model makes.

    ``arguments`` is normally a dict; a ``str`` is sent verbatim as the JSON text (use it to
    script malformed arguments). ``id`` is generated deterministically when ``None``
    (``call_...`` for OpenAI, ``toolu_...`` for Anthropic).
    """

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the compact JSON text put on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return _compact_json(self.arguments)

    def arguments_dict(self) -> dict[str, Any]:
        """The arguments as a dict (``{}`` when a scripted JSON string does not parse)."""
        if isinstance(self.arguments, dict):
            return self.arguments
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class Reply:
    """One scripted model answer (or error), consumed FIFO by whichever endpoint asks first.

    Build it with :meth:`text`, :meth:`tool_calls` or :meth:`error`; every field can also be
    set directly (``Reply(content="hi", cut_after_chunks=3)``).

    - ``delay``: seconds to wait before sending the response headers.
    - ``chunk_delay``: seconds to wait between two SSE events of a streamed reply.
    - ``first_delta_delay``: seconds a streamed reply waits before its first event with output
      (text, tool-call arguments or a refusal), after the opening events (to test time to
      first token).
    - ``cut_after_chunks``: a streamed reply drops the connection after this many SSE events
      (a non-streamed one after the headers and half of the body).
    - ``headers``: extra response headers (e.g. ``{"retry-after-ms": "0"}``).
    - ``body_override``: top-level fields merged into a non-streamed response body (script
      malformed responses, e.g. ``{"usage": {"prompt_tokens": "lots"}}``).
    """

    content: str | None = None
    calls: tuple[ToolCall, ...] = ()
    thinking: str | None = None
    usage: Usage | None = None
    model: str | None = None
    finish_reason: str | None = None
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    first_delta_delay: float = 0.0
    cut_after_chunks: int | None = None
    body_override: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def text(
        cls,
        content: str,
        *,
        usage: Usage | None = None,
        model: str | None = None,
        finish_reason: str = "stop",
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        thinking: str | None = None,
        cut_after_chunks: int | None = None,
        headers: dict[str, str] | None = None,
        first_delta_delay: float = 0.0,
    ) -> Reply:
        """A plain text answer (optionally preceded by a thinking / reasoning block)."""
        return cls(
            content=content,
            thinking=thinking,
            usage=usage,
            model=model,
            finish_reason=finish_reason,
            delay=delay,
            chunk_delay=chunk_delay,
            first_delta_delay=first_delta_delay,
            cut_after_chunks=cut_after_chunks,
            headers=dict(headers or {}),
        )

    @classmethod
    def tool_calls(
        cls,
        *calls: ToolCall,
        text: str | None = None,
        usage: Usage | None = None,
        model: str | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        thinking: str | None = None,
        cut_after_chunks: int | None = None,
        headers: dict[str, str] | None = None,
        first_delta_delay: float = 0.0,
    ) -> Reply:
        """An answer calling one or more tools, optionally with some text before the calls."""
        if not calls:
            raise ValueError("Reply.tool_calls() needs at least one ToolCall")
        return cls(
            content=text,
            calls=tuple(calls),
            thinking=thinking,
            usage=usage,
            model=model,
            finish_reason="tool_calls",
            delay=delay,
            chunk_delay=chunk_delay,
            first_delta_delay=first_delta_delay,
            cut_after_chunks=cut_after_chunks,
            headers=dict(headers or {}),
        )

    @classmethod
    def error(
        cls,
        status: int = 500,
        message: str = "scripted error",
        *,
        delay: float = 0.0,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """An HTTP error with a provider-shaped JSON body (``error_type`` defaults by status)."""
        if status < 400:
            raise ValueError("Reply.error() needs an HTTP error status (>= 400)")
        return cls(
            status=status,
            error_message=message,
            error_type=error_type,
            delay=delay,
            headers=dict(headers or {}),
        )

    @property
    def is_error(self) -> bool:
        """True for replies built with :meth:`error` (HTTP status >= 400)."""
        return self.status >= 400

    def resolved_finish_reason(self, api: Api) -> str:
        """The finish / stop reason in the dialect of ``api``."""
        from ._wire import WIRE_FORMATS

        reason = self.finish_reason or ("tool_calls" if self.calls else "stop")
        return WIRE_FORMATS[api].finish_reasons.get(reason, reason)


@dataclass
class RecordedRequest:
    """One HTTP request the server received (header names are lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    query: str = ""


# --------------------------------------------------------------------------- conversations


@dataclass
class Conversation:
    """A provider-neutral view of a request body, used for token estimation and AUTO mode."""

    texts: list[str]
    """The text of every message / input item (system prompt and instructions included)."""
    tools: list[Any]
    """Tool definitions exactly as sent."""
    functions: list[tuple[str, dict[str, Any]]]
    """Callable function tools, in order: (name, JSON schema of the arguments)."""
    last_user_text: str
    tool_result: str | None
    """Text of the latest tool result, if one came after the latest user message."""
    tool_choice: Any = None


def _text_of(content: Any) -> str:
    """Concatenated text of a message content: a string, content parts or blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_of(part) for part in content)
    if isinstance(content, dict):
        text = content.get("text")
        if isinstance(text, str):
            return text
        return _text_of(content.get("content"))
    return ""


def _call_text(name: Any, arguments: Any) -> str:
    args = arguments if isinstance(arguments, str) else _compact_json(arguments or {})
    return (name if isinstance(name, str) else "") + args


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_conversation(api: Api, body: dict[str, Any]) -> Conversation:
    """Read the messages, tools and latest turn of a request in the dialect ``api``."""
    from ._wire import WIRE_FORMATS

    fmt = WIRE_FORMATS[api]
    texts, turns, functions = fmt.parse(body)
    last_user = next((text for kind, text in reversed(turns) if kind == "user"), "")
    tool_result = turns[-1][1] if turns and turns[-1][0] == "tool" else None
    tools = fmt.tools(body) if fmt.tools is not None else body.get("tools")
    return Conversation(
        texts=texts,
        tools=list(tools) if isinstance(tools, list) else [],
        functions=functions,
        last_user_text=last_user,
        tool_result=tool_result,
        tool_choice=fmt.tool_choice(body)
        if fmt.tool_choice is not None
        else body.get("tool_choice"),
    )


# --------------------------------------------------------------------------- token estimation


def estimate_tokens(text: str) -> int:
    """``ceil(len(text) / 4)``: the server's stand-in for a tokenizer."""
    return math.ceil(len(text) / 4)


def estimate_input_tokens(api: Api, body: dict[str, Any]) -> int:
    """Estimated input tokens of a request: ``ceil(chars / 4) + 4 * messages + 3``.

    ``chars`` is the length of every message text (tool calls count as name + arguments JSON,
    system prompt / instructions count as a message) plus the length of the compact JSON of
    the ``tools`` list.
    """
    conv = parse_conversation(api, body)
    chars = sum(len(text) for text in conv.texts)
    if conv.tools:
        chars += len(_compact_json(conv.tools))
    return math.ceil(chars / 4) + 4 * len(conv.texts) + 3


def estimate_output_tokens(
    text: str | None = None, tool_calls: Sequence[ToolCall] = (), thinking: str | None = None
) -> int:
    """Estimated output tokens: ``ceil(len(text + thinking + names + arguments JSON) / 4) + 1``."""
    chars = len(text or "") + len(thinking or "")
    chars += sum(len(call.name) + len(call.arguments_json()) for call in tool_calls)
    return math.ceil(chars / 4) + 1


def estimate_usage(
    api: Api,
    body: dict[str, Any],
    *,
    text: str | None = None,
    tool_calls: Sequence[ToolCall] = (),
    thinking: str | None = None,
) -> Usage:
    """The usage the server reports for an unscripted-usage reply to ``body``.

    Reasoning tokens are ``ceil(len(thinking) / 4)`` (included in the output tokens).
    For chat completions with ``n > 1`` the server multiplies the output tokens by ``n``.
    """
    return Usage(
        input_tokens=estimate_input_tokens(api, body),
        output_tokens=estimate_output_tokens(text, tool_calls, thinking),
        reasoning_tokens=estimate_tokens(thinking) if thinking else 0,
    )


def estimate_embedding_tokens(inputs: Any) -> int:
    """Embedding prompt tokens: ``ceil(len(s) / 4)`` per string, ``len(ids)`` per token array."""
    if isinstance(inputs, str):
        return estimate_tokens(inputs)
    if isinstance(inputs, list):
        if inputs and all(isinstance(i, int) for i in inputs):
            return len(inputs)
        return sum(estimate_embedding_tokens(i) for i in inputs)
    return 0


def embedding_vector(text: str | Iterable[int], dimensions: int = 8) -> list[float]:
    """Deterministic unit-length embedding of ``text`` (values exactly representable as float32)."""
    key = text if isinstance(text, str) else _compact_json(list(text))
    raw = []
    for i in range(dimensions):
        digest = hashlib.sha256(f"{i}:{key}".encode()).digest()
        raw.append(int.from_bytes(digest[:8], "big") / 2**63 - 1.0)
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in raw]


# --------------------------------------------------------------------------- AUTO mode


def extract_argument(message: str) -> str:
    """The string AUTO mode passes as a tool argument for ``message``.

    The last capitalized word that is not the first word of its sentence (punctuation
    stripped; the pronoun "I" and its contractions are skipped), else the whole message
    truncated to 40 characters.
    """
    found: str | None = None
    for sentence in re.split(r"(?<=[.!?])\s+", message.strip()):
        for word in sentence.split()[1:]:
            word = word.strip(string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb")
            if not word or not word[0].isupper():
                continue
            if word == "I" or word.startswith(("I'", "I\u2019")):
                continue
            found = word
    if found:
        return found
    return message.strip()[:TRUNCATE_ARGUMENT]


def _value_for(schema: Any, text: str) -> Any:
    if not isinstance(schema, dict):
        return text
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict)]
        options = [o for o in options if o.get("type") != "null"] or options
        if options:
            return _value_for(options[0], text)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return {
        "integer": 1,
        "number": 1,
        "boolean": True,
        "array": [],
        "object": {},
        "null": None,
    }.get(kind, text)


def arguments_from_schema(schema: dict[str, Any], message: str) -> dict[str, Any]:
    """AUTO-mode arguments: each required (or, if none required, each) property gets a value.

    strings -> :func:`extract_argument` of ``message``, integer/number -> 1, boolean -> true,
    enum -> its first value, array -> [], object -> {}.
    """
    raw_props = schema.get("properties")
    props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
    names = schema.get("required") or list(props)
    text = extract_argument(message)
    return {name: _value_for(props.get(name, {}), text) for name in names if isinstance(name, str)}


def _chosen_function(conv: Conversation) -> tuple[str, dict[str, Any]] | None:
    if not conv.functions:
        return None
    choice = conv.tool_choice
    if choice == "none" or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        for fn in conv.functions:
            if fn[0] == name:
                return fn
    return conv.functions[0]


def auto_reply(api: Api, body: dict[str, Any]) -> Reply:
    """The deterministic reply AUTO mode gives to ``body`` (see :mod:`agentel.testing`)."""
    conv = parse_conversation(api, body)
    if conv.tool_result is not None:
        return Reply.text("Here is what I found: " + conv.tool_result[:TRUNCATE_REPLY])
    fn = _chosen_function(conv)
    if fn is not None:
        name, schema = fn
        return Reply.tool_calls(ToolCall(name, arguments_from_schema(schema, conv.last_user_text)))
    return Reply.text("You said: " + conv.last_user_text[:TRUNCATE_REPLY])
