"""Handles over live agent / LLM / tool spans.

The manual API yields them from ``with agent(...) as h`` and provider instrumentors drive
:class:`LLMHandle` directly, so usage and cost are recorded the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.trace import Span

from agentel.semconv import attributes as A

from ._common import (
    Usage,
    add_event,
    cost_attributes,
    log_once,
    record_error,
    set_attribute,
    set_attributes,
)
from ._config import InstrumentationConfig, default_config
from ._content import record_content


class SpanHandle:
    """A live span opened by agentel. Methods never raise and are no-ops once it has ended."""

    __slots__ = ("_content", "_content_config", "_ended", "_span")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._ended = False
        self._content: dict[str, Any] | None = None
        self._content_config: InstrumentationConfig | None = None

    @property
    def span(self) -> Span:
        """The underlying OpenTelemetry span."""
        return self._span

    @property
    def ended(self) -> bool:
        return self._ended

    def is_recording(self) -> bool:
        return not self._ended and self._span.is_recording()

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (non-primitive values are JSON-encoded, ``None`` is skipped)."""
        if not self._ended:
            set_attribute(self._span, key, value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if not self._ended:
            set_attributes(self._span, attributes)

    def record_event(self, kind: str, **data: Any) -> None:
        """Add span event ``agentel.<kind>`` with ``data`` as its attributes."""
        if not self._ended:
            add_event(self._span, kind, data)

    def record_error(self, exc: BaseException) -> None:
        """Mark the span failed with ``exc`` without raising it."""
        if not self._ended:
            record_error(self._span, exc)

    def capture(self, config: InstrumentationConfig, content: Mapping[str, Any]) -> None:
        """Hold captured content (attribute key -> value) for the end of the span.

        The one content path of every producer: when the span ends the values are redacted,
        encoded and capped, and recorded where ``config`` says (span attributes and/or one
        inference-details event). Ignored unless content capture is on; ``None`` is skipped.
        """
        if self._ended or not config.capture_content:
            return
        values = {key: value for key, value in content.items() if value is not None}
        if not values:
            return
        if self._content is None:
            self._content = {}
        self._content.update(values)
        self._content_config = config

    def _before_end(self) -> None:
        """Hook for subclasses: last attributes before the span ends."""

    def end(self, exc: BaseException | None = None) -> None:
        """Record ``exc`` (if any) and end the span. Idempotent."""
        if self._ended:
            return
        if exc is not None:
            record_error(self._span, exc)
        try:
            self._before_end()
        except Exception:
            log_once(f"{type(self).__name__}.before_end", "could not finish span attributes")
        if self._content and self._content_config is not None:
            record_content(self._span, self._content_config, self._content)
            self._content = None
        self._ended = True
        self._span.end()

    def __repr__(self) -> str:
        ctx = self._span.get_span_context()
        return f"<{type(self).__name__} span_id={ctx.span_id:016x} ended={self._ended}>"


class AgentHandle(SpanHandle):
    """An ``invoke_agent`` / ``invoke_workflow`` span."""

    __slots__ = ()

    def set_conversation_id(self, conversation_id: str) -> None:
        self.set_attribute(A.GEN_AI_CONVERSATION_ID, conversation_id)


class ToolHandle(SpanHandle):
    """An ``execute_tool`` span."""

    __slots__ = ()


class LLMHandle(SpanHandle):
    """An LLM call span (``chat``, ``text_completion``, ``embeddings``...).

    Usage attributes are set as they are reported; the cost is computed once, when the span
    ends, from the final usage and the response model (falling back to the request model).
    """

    __slots__ = ("cost_usd", "provider", "request_model", "response_model", "usage")

    def __init__(self, span: Span, *, model: str | None, provider: str | None) -> None:
        super().__init__(span)
        self.request_model = model
        self.provider = provider
        self.response_model: str | None = None
        self.usage = Usage()
        self.cost_usd: float | None = None

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        model: str | None = None,
    ) -> None:
        """Report token usage (counts given overwrite earlier ones; ``None`` keeps them).

        ``model`` is the model that actually served the call (``gen_ai.response.model``),
        used for pricing.
        """
        if self._ended:
            return
        try:
            values = self.usage.merge(
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens
            )
            if values:
                self._set_clean(values)
        except Exception:
            log_once("LLMHandle.set_usage", "could not record usage")
        if model:
            self.set_response(model=model)

    def set_model(self, model: str) -> None:
        """The model that served the call, for hand-written clients that learn it late.

        Sets ``gen_ai.response.model`` (used for pricing); when the scope was opened without
        a model it also becomes the request model and the span is renamed ``{operation} {model}``.
        """
        if self._ended or not model:
            return
        model = str(model)
        if self.request_model is None:
            self.request_model = model
            set_attribute(self._span, A.GEN_AI_REQUEST_MODEL, model)
            try:
                operation = getattr(self._span, "attributes", {}).get(A.GEN_AI_OPERATION_NAME)
                self._span.update_name(f"{operation or 'chat'} {model}")
            except Exception:
                log_once("LLMHandle.set_model", "could not rename the span")
        self.set_response(model=model)

    def set_response(
        self,
        *,
        model: str | None = None,
        id: str | None = None,
        finish_reasons: Iterable[str | None] | None = None,
    ) -> None:
        """Record response metadata: served model, response id, finish reasons."""
        if self._ended:
            return
        values: dict[str, Any] = {}
        if model:
            self.response_model = values[A.GEN_AI_RESPONSE_MODEL] = str(model)
        if id:
            values[A.GEN_AI_RESPONSE_ID] = str(id)
        if finish_reasons is not None:
            reasons = tuple([str(r) for r in finish_reasons if r is not None])
            values[A.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
        if values:
            self._set_clean(values)

    def _set_clean(self, values: dict[str, Any]) -> None:
        """Set attributes whose values are already attribute-safe (built by agentel)."""
        set_attributes(self._span, values)

    def record_content(
        self,
        *,
        input_messages: Any = None,
        output_messages: Any = None,
        system_instructions: Any = None,
        tool_definitions: Any = None,
    ) -> None:
        """Record prompts / completions, only if content capture is opted in.

        Values use the official GenAI JSON shapes (e.g. ``[{"role": "user", "parts":
        [{"type": "text", "content": "hi"}]}]``); they pass the ``configure(redact=...)``
        hook and the ``AGENTEL_MAX_CONTENT_CHARS`` cap like instrumented calls.
        """
        self.capture(
            default_config(),
            {
                A.GEN_AI_INPUT_MESSAGES: input_messages,
                A.GEN_AI_OUTPUT_MESSAGES: output_messages,
                A.GEN_AI_SYSTEM_INSTRUCTIONS: system_instructions,
                A.GEN_AI_TOOL_DEFINITIONS: tool_definitions,
            },
        )

    def _before_end(self) -> None:
        usage = self.usage
        if usage.is_empty() or not self._span.is_recording():
            return
        served, requested = self.response_model, self.request_model
        cost = cost_attributes(served, self.provider, usage)
        if not cost and requested != served:
            cost = cost_attributes(requested, self.provider, usage)
        if cost:
            self.cost_usd = cost[A.GEN_AI_USAGE_COST]
            self._set_clean(cost)
