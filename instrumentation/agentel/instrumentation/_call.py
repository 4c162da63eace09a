"""One instrumented provider call: its span handle plus timing, content and metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from time import perf_counter
from typing import Any

from opentelemetry.trace import Span

from agentel.semconv import attributes as A
from agentel.semconv.pricing import default_pricebook

from ._common import Usage, error_type, log_once, record_error, set_attribute, to_attribute_value
from ._config import InstrumentationConfig
from ._content import record_content
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
        "capture_content",
        "config",
        "stream_end",
        "usage_missing",
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
        self.capture_content = config.capture_content  # read per call: a slot, not a property
        self._metrics = metrics
        self._request_attributes = attributes
        self._pending: dict[str, Any] = {}
        self._first_chunk: float | None = None
        self._last_chunk = 0.0
        self._content: dict[str, Any] | None = None
        self._content_config: InstrumentationConfig | None = config
        self.stream_end: str | None = None
        self.usage_missing: str | None = None

    def _set_clean(self, values: dict[str, Any]) -> None:
        self._pending.update(values)

    def set_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        model: str | None = None,
    ) -> None:
        """As :meth:`LLMHandle.set_usage`, the counts going straight to the end's attributes."""
        if self._ended:
            return
        try:
            self.usage.merge(
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                reasoning_tokens,
                self._pending,
            )
        except Exception:
            log_once("LLMHandle.set_usage", "could not record usage")
        if model:
            self.set_response(model=model)

    def set_response(
        self,
        *,
        model: str | None = None,
        id: str | None = None,
        finish_reasons: Iterable[str | None] | None = None,
    ) -> None:
        """As :meth:`LLMHandle.set_response`, held for the end's one ``set_attributes``.

        The finish reasons are held as a list: the SDK stores every sequence as a tuple, and
        checks a list against ``Sequence`` in one step where a tuple takes three calls.
        """
        if self._ended:
            return
        pending = self._pending
        if model:
            self.response_model = pending[A.GEN_AI_RESPONSE_MODEL] = str(model)
        if id:
            pending[A.GEN_AI_RESPONSE_ID] = str(id)
        if finish_reasons is not None:
            reasons = [*finish_reasons]
            if None in reasons:
                reasons = [r for r in reasons if r is not None]
            pending[A.GEN_AI_RESPONSE_FINISH_REASONS] = [*map(str, reasons)]

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
        """Cost, stream rate and end state joined to the held attributes, set in one call."""
        pending = self._pending
        try:
            usage = self.usage
            if (
                usage.input_tokens is not None or usage.output_tokens is not None
            ) or not usage.is_empty():
                self._price(usage, pending)
            elif self.usage_missing is not None and usage.is_empty():
                pending[A.AGENTEL_USAGE_MISSING] = self.usage_missing
            first = self._first_chunk
            output = usage.output_tokens
            if first is not None and output and self._last_chunk > first:
                pending[A.AGENTEL_OUTPUT_TOKENS_PER_SECOND] = output / (self._last_chunk - first)
            if self.stream_end is not None:
                pending[A.AGENTEL_STREAM_END] = self.stream_end
        finally:
            if pending:
                self._span.set_attributes(pending)
                self._pending = {}

    def _price(self, usage: Usage, pending: dict[str, Any]) -> None:
        """Cost of the call at the served model's price, else the requested model's."""
        try:
            book = default_pricebook()
            served, requested, provider = self.response_model, self.request_model, self.provider
            cost = None
            if served:
                cost = book.cost_attributes(
                    served,
                    provider,
                    input_tokens=usage.input_tokens,  # type: ignore[arg-type]  # None reads 0
                    output_tokens=usage.output_tokens,  # type: ignore[arg-type]
                    cache_read_tokens=usage.cache_read_tokens,  # type: ignore[arg-type]
                    cache_write_tokens=usage.cache_write_tokens,  # type: ignore[arg-type]
                    reasoning_tokens=usage.reasoning_tokens,  # type: ignore[arg-type]
                )
            if not cost and requested and requested != served:
                cost = book.cost_attributes(
                    requested,
                    provider,
                    input_tokens=usage.input_tokens,  # type: ignore[arg-type]
                    output_tokens=usage.output_tokens,  # type: ignore[arg-type]
                    cache_read_tokens=usage.cache_read_tokens,  # type: ignore[arg-type]
                    cache_write_tokens=usage.cache_write_tokens,  # type: ignore[arg-type]
                    reasoning_tokens=usage.reasoning_tokens,  # type: ignore[arg-type]
                )
        except Exception:
            log_once("cost_attributes", "could not price an LLM call")
            return
        if cost:
            self.cost_usd = cost[A.GEN_AI_USAGE_COST]
            pending.update(cost)

    def end(self, exc: BaseException | None = None) -> None:
        """End the span (as :meth:`SpanHandle.end`), then record the call's metrics."""
        if self._ended:
            return
        span = self._span
        if exc is not None:
            record_error(span, exc)
        try:
            self._before_end()
        except Exception:
            log_once("ProviderCall.before_end", "could not finish span attributes")
        if self._content and self._content_config is not None:
            record_content(span, self._content_config, self._content)
            self._content = None
        self._ended = True
        span.end()
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
