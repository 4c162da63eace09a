"""Cassettes: the LLM calls of one recorded run, in a form that can be served again.

A cassette is built from a store run (its counted LLM spans, recorded with content capture)
or read from a file ``agentel cassette export`` wrote. Each call keeps what it was asked
(model, system instructions, messages, tools and the output-changing parameters, in the
official GenAI shapes agentel records) and what it answered (text, reasoning, tool calls
with their ids, finish reason, model, token usage), so it can be matched by content and
rendered in whichever wire format the agent asks in, streamed or not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentel.semconv import attributes as A
from agentel.store.diff import llm_call_spans
from agentel.store.query import span_order
from agentel.store.records import TOKEN_FIELDS

from ._script import Reply, ToolCall, Usage

FORMAT = "agentel.cassette"
VERSION = 1
"""The cassette file format version; readers refuse versions they do not know."""

HOW_TO_RECORD = (
    "record it with content capture on: agentel.sdk.configure(capture_content=True), or "
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true in the agent's environment"
)

# Request parameters that never change what the model answers (how it is delivered, where).
_NOT_OUTPUT_CHANGING = frozenset({A.GEN_AI_REQUEST_MODEL, A.GEN_AI_REQUEST_STREAM})

REQUEST_FIELDS = ("model", "system", "messages", "tools", "params")
"""What a request is matched on, in the order differences are reported."""


class CassetteError(ValueError):
    """A run or file that cannot be replayed (no content captured, truncated, bad file)."""


@dataclass
class RecordedCall:
    """One LLM call of a recorded run: its request (as matched) and its answer."""

    index: int
    provider: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    span_id: str | None = None

    def reply(self) -> Reply:
        """The scripted-server reply that answers like this call did."""
        r = self.response
        if r.get("error"):
            return Reply.error(500, str(r["error"]), headers={"x-should-retry": "false"})
        usage = r.get("usage") or {}
        calls = tuple(
            ToolCall(c.get("name") or "", c.get("arguments") or {}, c.get("id"))
            for c in r.get("tool_calls") or ()
        )
        return Reply(
            content=r.get("text"),
            calls=calls,
            thinking=r.get("thinking"),
            usage=Usage(
                input_tokens=usage.get("input_tokens") or 0,
                output_tokens=usage.get("output_tokens") or 0,
                cached_tokens=usage.get("cache_read_tokens") or 0,
                cache_write_tokens=usage.get("cache_write_tokens") or 0,
                reasoning_tokens=usage.get("reasoning_tokens") or 0,
            ),
            model=r.get("model"),
            finish_reason=r.get("finish_reason"),
        )

    def label(self) -> str:
        """``openai gpt-4o-mini`` for messages."""
        return " ".join(str(x) for x in (self.provider, self.request.get("model")) if x)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "provider": self.provider,
            "span_id": self.span_id,
            "request": self.request,
            "response": self.response,
        }


@dataclass
class Cassette:
    """The recorded LLM calls of one run, in the order they were made."""

    calls: list[RecordedCall]
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The versioned, self-contained JSON form written by ``agentel cassette export``."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "run": self.run,
            "calls": [call.to_dict() for call in self.calls],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cassette:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise CassetteError(f'not an agentel cassette (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise CassetteError(
                f"cassette version {data.get('version')!r} is not supported (this agentel "
                f"reads version {VERSION})"
            )
        calls = [
            RecordedCall(
                index=c["index"],
                provider=c.get("provider"),
                request=c["request"],
                response=c["response"],
                span_id=c.get("span_id"),
            )
            for c in data.get("calls") or ()
        ]
        return cls(calls=calls, run=dict(data.get("run") or {}))

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a cassette file (``agentel cassette export``)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CassetteError(f"{path}: not JSON ({exc})") from exc
        return cls.from_dict(data)

    @classmethod
    def from_store(cls, store: Any, run_id: str) -> Cassette:
        """The cassette of a stored run (id or unique prefix); refuses runs without content."""
        run = store.run(run_id)
        return cls.from_spans(run, store.export(run_id=run["run_id"]))

    @classmethod
    def from_spans(cls, run: Mapping[str, Any], spans: Iterable[Any]) -> Cassette:
        """The cassette of a run from its span records (``Store.export``)."""
        llm = llm_call_spans(sorted(spans, key=span_order))
        if not llm:
            raise CassetteError(f"run {run['run_id']} made no LLM calls: nothing to replay")
        calls = [
            _recorded_call(index, counted, shown, run)
            for index, (counted, shown) in enumerate(llm, start=1)
        ]
        summary = {
            key: run.get(key)
            for key in ("run_id", "name", "agent_name", "service_name", "start_time")
        }
        return cls(calls=calls, run=summary)

    def redacted(self, redact: Callable[[str], str]) -> Cassette:
        """A copy whose every text (not roles, ids, names or types) went through ``redact``."""
        return Cassette(
            calls=[
                RecordedCall(
                    c.index,
                    c.provider,
                    _scrub(c.request, redact),
                    _scrub(c.response, redact),
                    c.span_id,
                )
                for c in self.calls
            ],
            run=dict(self.run),
        )


# --- reading a recorded span ---------------------------------------------------------------------
_TRUNCATED = re.compile(r"\.\.\.\[agentel: truncated \d+ chars\]$")


def _content(span: Any, key: str, what: str, run: Mapping[str, Any], index: int) -> Any:
    """A captured content attribute (span or inference-details event), decoded."""
    value = span.attributes.get(key)
    if value is None:
        for event in span.events:
            if event.get("name") == A.EVENT_INFERENCE_DETAILS:
                value = (event.get("attributes") or {}).get(key)
                if value is not None:
                    break
    if not isinstance(value, str):
        return value
    if _TRUNCATED.search(value):
        raise CassetteError(
            f"run {run['run_id']}: call {index} ({span.name}) has its {what} truncated at "
            "AGENTEL_MAX_CONTENT_CHARS; raise that limit and record the run again to re-run it"
        )
    try:
        return json.loads(value)
    except ValueError:
        return value


def _request_params(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The output-changing request parameters of a span's (or request's) attributes."""
    return {
        key: value
        for key, value in sorted(attributes.items())
        if (key.startswith("gen_ai.request.") or key == A.GEN_AI_OUTPUT_TYPE)
        and key not in _NOT_OUTPUT_CHANGING
        and value is not None
    }


def _recorded_call(index: int, counted: Any, span: Any, run: Mapping[str, Any]) -> RecordedCall:
    """The call whose tokens ``counted`` holds and whose content ``span`` captured."""
    messages = _content(span, A.GEN_AI_INPUT_MESSAGES, "input messages", run, index)
    outputs = _content(span, A.GEN_AI_OUTPUT_MESSAGES, "output messages", run, index)
    failed = span.status == "error"
    if messages is None or (outputs is None and not failed):
        raise CassetteError(
            f"run {run['run_id']} was recorded without content capture (call {index}, "
            f"{span.name}, has no captured messages), so its answers cannot be served again: "
            + HOW_TO_RECORD
        )
    attrs = span.attributes
    request = {
        "model": attrs.get(A.GEN_AI_REQUEST_MODEL) or span.model,
        "system": _content(span, A.GEN_AI_SYSTEM_INSTRUCTIONS, "system instructions", run, index),
        "messages": messages,
        "tools": _content(span, A.GEN_AI_TOOL_DEFINITIONS, "tool definitions", run, index),
        "params": _request_params(attrs),
    }
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for message in outputs if isinstance(outputs, list) else ():
        for part in message.get("parts") or () if isinstance(message, Mapping) else ():
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
            elif kind == "reasoning" and isinstance(part.get("content"), str):
                thinking.append(part["content"])
            elif kind == "tool_call":
                calls.append(
                    {
                        "id": part.get("id"),
                        "name": part.get("name"),
                        "arguments": part.get("arguments"),
                    }
                )
    reasons = attrs.get(A.GEN_AI_RESPONSE_FINISH_REASONS)
    response = {
        "model": attrs.get(A.GEN_AI_RESPONSE_MODEL) or span.model,
        "text": "".join(texts) if texts else None,
        "thinking": "".join(thinking) if thinking else None,
        "tool_calls": calls,
        "finish_reason": reasons[0] if isinstance(reasons, list) and reasons else None,
        "usage": {name: getattr(counted, name) for name in TOKEN_FIELDS},
        "error": (span.status_message or span.error_type or "error") if failed else None,
    }
    return RecordedCall(index, span.provider, request, response, span.span_id)


# --- redaction -----------------------------------------------------------------------------------
_STRUCTURAL = frozenset(
    {"role", "type", "id", "name", "finish_reason", "modality", "mime_type", "provider", "model"}
)


def _scrub(value: Any, redact: Callable[[str], str], key: str | None = None) -> Any:
    if isinstance(value, str):
        return value if key in _STRUCTURAL else redact(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, redact, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    return value


SECRET_PATTERNS = (
    r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}",  # OpenAI / Anthropic API keys
    r"AKIA[0-9A-Z]{16}",  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack tokens
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"[Bb]earer\s+[A-Za-z0-9._\-]{16,}",  # bearer tokens
)
REDACTED = "[REDACTED]"


def secret_redactor(extra: Iterable[str] = ()) -> Callable[[str], str]:
    """A redactor replacing well-known credential shapes (and ``extra`` regexes) by
    ``[REDACTED]``; used by ``agentel cassette export``."""
    pattern = re.compile("|".join(f"(?:{p})" for p in (*SECRET_PATTERNS, *extra)))
    return lambda text: pattern.sub(REDACTED, text)
