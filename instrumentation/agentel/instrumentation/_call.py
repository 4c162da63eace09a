"""One instrumented provider call: its span handle plus timing, content and metrics."""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

from opentelemetry.trace import Span

from agentel.semconv import attributes as A

from ._common import Usage, error_type, log_once, set_attribute, to_attribute_value
from ._config import InstrumentationConfig
from ._handles import LLMHandle
from ._metrics import METRIC_ATTRIBUTE_KEYS, GenAIMetrics


class ProviderCall(LLMHandle):
    """The span of one provider SDK call, as provider modules and stream proxies see it.

    Besides what :class:`LLMHandle` records (usage, response metadata, cost at the end) it
    measures the duration and, for streams, the time to the first chunk and the output token
    rate; it holds captured content until the end; and it records the call's metrics once,
    after the span has ended.

    Attributes learnt from the response (metadata, usage) are held and set at the end
    together with the cost, in one ``set_attributes`` call: every
    call into the SDK span takes its lock and re-validates the mapping.
    """

    __slots__ = (
        "_first_chunk",
        "_last_chunk",
        "_metrics",
        "_pending",
        "_request_attributes",
        "_started",
        "config",
        "stream_end",
    )

    def __init__(
        self,
        span: Span,
        *,
        model: str | None,
        provider: str | None,
        config: InstrumentationConfig,
        metrics: GenAIMetrics | None,
        attributes: Mapping[str, Any],
    ) -> None:
        # every slot set here rather than through the two base __init__s: once per LLM call
        self._span = span
        self._ended = False
        self.request_model = model
        self.provider = provider
        self.response_model: str | None = None
        self.usage = Usage()
        self.cost_usd: float | None = None
        self._started = perf_counter()
        self.config = config
        self._metrics = metrics
        self._request_attributes = attributes
        self._pending: dict[str, Any] = {}
        self._first_chunk: float | None = None
        self._last_chunk = 0.0
        self._content: dict[str, Any] | None = None
        self._content_config: InstrumentationConfig | None = config
        self.stream_end: str | None = None

    def _set_clean(self, values: dict[str, Any]) -> None:
        self._pending.update(values)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute at the end of the call (``None`` is skipped)."""
        if self._ended:
            return
        try:
            converted = to_attribute_value(value)
        except Exception:
            log_once("set_attribute", f"could not set attribute {key!r}")
            return
        if converted is not None:
            self._pending[key] = converted

    @property
    def capture_content(self) -> bool:
        return self.config.capture_content

    def add_content(self, key: str, value: Any) -> None:
        """Keep captured content for the end of the call (ignored unless capture is on)."""
        if value is None or not self.config.capture_content or self._ended:
            return
        if self._content is None:
            self._content = {}
        self._content[key] = value

    def chunk_received(self, output: bool = True) -> None:
        """Mark one streamed chunk. The first one with output (``output``: text, tool-call
        arguments or a refusal has arrived) sets ``gen_ai.response.time_to_first_chunk``; a
        stream's opening events (created, role-only) carry none and do not count."""
        now = perf_counter()
        if self._first_chunk is None and output:
            self._first_chunk = now
            if not self._ended:  # on the span at once: a live view shows it mid-stream
                set_attribute(
                    self._span, A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, now - self._started
                )
        self._last_chunk = now

    @property
    def time_to_first_chunk(self) -> float | None:
        first = self._first_chunk
        return None if first is None else first - self._started

    def _before_end(self) -> None:
        try:
            super()._before_end()
            first = self._first_chunk
            output = self.usage.output_tokens
            if first is not None and output and self._last_chunk > first:
                rate = output / (self._last_chunk - first)
                self._pending[A.AGENTEL_OUTPUT_TOKENS_PER_SECOND] = rate
            if self.stream_end is not None:
                self._pending[A.AGENTEL_STREAM_END] = self.stream_end
        finally:
            if self._pending:
                self._span.set_attributes(self._pending)
                self._pending = {}

    def end(self, exc: BaseException | None = None) -> None:
        if self._ended:
            return
        super().end(exc)
        metrics = self._metrics
        if metrics is None or not metrics.enabled:
            return
        try:
            request = self._request_attributes
            attrs = {k: request[k] for k in METRIC_ATTRIBUTE_KEYS if request.get(k) is not None}
            if self.response_model:
                attrs[A.GEN_AI_RESPONSE_MODEL] = self.response_model
            if exc is not None:
                attrs[A.ERROR_TYPE] = error_type(exc)
            metrics.record(
                attrs,
                duration=perf_counter() - self._started,
                input_tokens=self.usage.input_tokens,
                output_tokens=self.usage.output_tokens,
                time_to_first_chunk=self.time_to_first_chunk,
                cost=self.cost_usd,
            )
        except Exception:
            log_once("ProviderCall.metrics", "could not record call metrics")
