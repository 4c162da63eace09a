"""The OpenAI Agents SDK tracing processor that turns its traces and spans into OTel spans.

Imported only by ``OpenAIAgentsInstrumentor.instrument()`` (it subclasses the SDK's
``TracingProcessor``). Parents come from the SDK's own span ids; the span of a running model
call, tool, agent or turn is also made the current OpenTelemetry span, so the OpenAI SDK's
own ``chat`` span (with ``OpenAIInstrumentor`` on) nests under the generation span and the
store counts its tokens once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from agents.tracing import TracingProcessor
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation, Provider

from .._attach import Attachments
from .._common import clean_attributes, log_once, set_attribute
from .._config import InstrumentationConfig
from .._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle

FRAMEWORK = "openai_agents"
_ERROR_TYPE = "agents.SpanError"
_TRIPWIRE_TYPE = "agents.GuardrailTripwireTriggered"

# SDK span types that get no span of their own: their children hang under the parent.
# A "task" is the top-level Runner run inside the trace (the trace is already the run);
# a "turn" is one pass of the agent loop: it becomes the agentel.iteration of its children.
_PASSTHROUGH = frozenset({"task", "turn"})


class AgentelTracingProcessor(TracingProcessor):
    """Spans for Agents SDK traces: workflow, agents, generations, tools, handoffs, guardrails."""

    def __init__(self, tracer: trace.Tracer, config: InstrumentationConfig) -> None:
        self._tracer = tracer
        self._config = config
        self._handles: dict[str, SpanHandle] = {}
        self._contexts: dict[str, otel_context.Context] = {}
        self._lock = threading.Lock()
        self.attachments = Attachments()

    # --- bookkeeping ------------------------------------------------------------------------------

    def _parent_context(self, key: str | None) -> otel_context.Context:
        with self._lock:
            ctx = self._contexts.get(key) if key else None
        return ctx if ctx is not None else otel_context.get_current()

    def _start(
        self,
        key: str,
        parent_key: str | None,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any],
        handle: type[SpanHandle],
        *,
        attach: bool = True,
        **handle_kwargs: Any,
    ) -> None:
        parent = self._parent_context(parent_key)
        attributes = {**attributes, A.AGENTEL_FRAMEWORK: FRAMEWORK}
        index = otel_context.get_value(A.CONTEXT_ITERATION_KEY, parent)
        if isinstance(index, int):
            attributes[A.AGENTEL_ITERATION] = index
        span = self._tracer.start_span(
            name, context=parent, kind=kind, attributes=clean_attributes(attributes)
        )
        ctx = trace.set_span_in_context(span, parent)
        with self._lock:
            self._handles[key] = handle(span, **handle_kwargs)
            self._contexts[key] = ctx
        if attach:
            self.attachments.attach(key, ctx)

    def _pop(self, key: str) -> SpanHandle | None:
        self.attachments.release(key)
        with self._lock:
            self._contexts.pop(key, None)
            return self._handles.pop(key, None)

    # --- traces: the workflow -------------------------------------------------------------------------

    def on_trace_start(self, trace_: Any) -> None:
        try:
            name = str(getattr(trace_, "name", None) or "Agent workflow")
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.INVOKE_WORKFLOW,
                A.GEN_AI_WORKFLOW_NAME: name,
                A.GEN_AI_CONVERSATION_ID: getattr(trace_, "group_id", None),
            }
            # Not attached: a streamed run ends its trace in another task than it started in.
            self._start(
                trace_.trace_id,
                None,
                f"{Operation.INVOKE_WORKFLOW} {name}",
                SpanKind.INTERNAL,
                attributes,
                AgentHandle,
                attach=False,
            )
        except Exception:
            log_once("openai_agents.on_trace_start", "could not start a workflow span")

    def on_trace_end(self, trace_: Any) -> None:
        handle = self._pop(trace_.trace_id)
        if handle is not None:
            handle.end()

    # --- spans ----------------------------------------------------------------------------------------

    def on_span_start(self, span: Any) -> None:
        try:
            data = span.span_data
            kind = data.type
            parent_key = span.parent_id or span.trace_id
            if kind in _PASSTHROUGH:
                self._passthrough(span, data, parent_key)
                return
            name, span_kind, attributes, handle, extra = _describe(data)
            self._start(span.span_id, parent_key, name, span_kind, attributes, handle, **extra)
        except Exception:
            log_once("openai_agents.on_span_start", "could not start a span")

    def _passthrough(self, span: Any, data: Any, parent_key: str) -> None:
        ctx = self._parent_context(parent_key)
        turn = getattr(data, "turn", None)
        if data.type == "turn" and isinstance(turn, int):  # 1-based; iterations are 0-based
            ctx = otel_context.set_value(A.CONTEXT_ITERATION_KEY, turn - 1, ctx)
            with self._lock:
                workflow = self._handles.get(span.trace_id)
            if workflow is not None:  # turns count across hand-offs: the run's iterations
                workflow.set_attribute(A.AGENTEL_RUN_ITERATIONS, turn)
        with self._lock:
            self._contexts[span.span_id] = ctx
        self.attachments.attach(span.span_id, ctx)

    def on_span_end(self, span: Any) -> None:
        handle = self._pop(span.span_id)
        if handle is None:
            return
        try:
            data = span.span_data
            self._finish(handle, data)
            error = getattr(span, "error", None)
            if error:
                _fail(handle, _ERROR_TYPE, str(error.get("message") or "error"))
            if data.type == "guardrail" and data.triggered:
                # A tripwire aborts the whole run with an exception: the run failed.
                message = f"guardrail {data.name} triggered"
                _fail(handle, _TRIPWIRE_TYPE, message)
                with self._lock:
                    workflow = self._handles.get(span.trace_id)
                if workflow is not None:
                    _fail(workflow, _TRIPWIRE_TYPE, message)
        except Exception:
            log_once("openai_agents.on_span_end", "could not finish a span")
        handle.end()

    def _finish(self, handle: SpanHandle, data: Any) -> None:
        kind = data.type
        if isinstance(handle, LLMHandle):
            _record_generation(handle, data)
            content = {
                A.GEN_AI_INPUT_MESSAGES: data.input,
                A.GEN_AI_OUTPUT_MESSAGES: getattr(data, "output", None),
            }
            handle.capture(self._config, content)
        elif kind == "function":
            content = {
                A.GEN_AI_TOOL_CALL_ARGUMENTS: data.input,
                A.GEN_AI_TOOL_CALL_RESULT: data.output,
            }
            handle.capture(self._config, content)
        elif kind == "handoff":
            handle.set_attribute(A.AGENTEL_HANDOFF_TO, data.to_agent)
            if data.to_agent:
                handle.span.update_name(f"handoff {data.to_agent}")
        elif kind == "guardrail":
            handle.set_attribute(A.AGENTEL_GUARDRAIL_TRIGGERED, bool(data.triggered))

    def shutdown(self) -> None:
        return None

    def force_flush(self) -> None:
        return None

    def open_spans(self) -> int:
        """Spans started and not yet ended (for tests: nothing may leak)."""
        with self._lock:
            return len(self._handles) + len(self._contexts)


# --- reading SDK span data ------------------------------------------------------------------------


def _describe(
    data: Any,
) -> tuple[str, SpanKind, dict[str, Any], type[SpanHandle], dict[str, Any]]:
    """Name, kind, start attributes, handle type and handle arguments for one SDK span."""
    kind = data.type
    if kind == "agent":
        attrs = {A.GEN_AI_OPERATION_NAME: Operation.INVOKE_AGENT, A.GEN_AI_AGENT_NAME: data.name}
        return f"{Operation.INVOKE_AGENT} {data.name}", SpanKind.INTERNAL, attrs, AgentHandle, {}
    if kind in ("generation", "response"):
        model = getattr(data, "model", None)
        config = getattr(data, "model_config", None) or {}
        attrs = {
            A.GEN_AI_OPERATION_NAME: Operation.CHAT,
            A.GEN_AI_PROVIDER_NAME: Provider.OPENAI,
            A.GEN_AI_REQUEST_MODEL: model,
            A.GEN_AI_REQUEST_TEMPERATURE: config.get("temperature"),
            A.GEN_AI_REQUEST_TOP_P: config.get("top_p"),
            A.GEN_AI_REQUEST_MAX_TOKENS: config.get("max_tokens"),
        }
        name = f"{Operation.CHAT} {model}" if model else Operation.CHAT
        extra = {"model": model, "provider": Provider.OPENAI}
        return name, SpanKind.CLIENT, attrs, LLMHandle, extra
    if kind == "function":
        attrs = {
            A.GEN_AI_OPERATION_NAME: Operation.EXECUTE_TOOL,
            A.GEN_AI_TOOL_NAME: data.name,
            A.GEN_AI_TOOL_TYPE: "function",
        }
        return f"{Operation.EXECUTE_TOOL} {data.name}", SpanKind.INTERNAL, attrs, ToolHandle, {}
    if kind == "handoff":
        attrs = {A.AGENTEL_HANDOFF_FROM: data.from_agent, A.AGENTEL_HANDOFF_TO: data.to_agent}
        name = f"handoff {data.to_agent}" if data.to_agent else "handoff"
        return name, SpanKind.INTERNAL, attrs, SpanHandle, {}
    if kind == "guardrail":
        attrs = {A.AGENTEL_GUARDRAIL_NAME: data.name}
        return f"guardrail {data.name}", SpanKind.INTERNAL, attrs, SpanHandle, {}
    if kind == "custom":
        return str(data.name), SpanKind.INTERNAL, {}, SpanHandle, {}
    if kind == "mcp_tools":
        return f"mcp_list_tools {data.server}", SpanKind.CLIENT, {}, SpanHandle, {}
    return str(kind), SpanKind.INTERNAL, {}, SpanHandle, {}


def _fail(handle: SpanHandle, error_type: str, message: str) -> None:
    set_attribute(handle.span, A.ERROR_TYPE, error_type)
    handle.span.set_status(Status(StatusCode.ERROR, message))


def _get(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def _record_generation(handle: LLMHandle, data: Any) -> None:
    """Usage and response metadata of a generation (chat completions) or response span."""
    response = getattr(data, "response", None)
    usage = getattr(data, "usage", None) or _get(response, "usage")
    if response is not None:
        model = _get(response, "model")
        if model:
            handle.set_model(str(model))
        handle.set_response(id=_get(response, "id"))
    if not usage:
        return
    details_in = _get(usage, "input_tokens_details") or {}
    details_out = _get(usage, "output_tokens_details") or {}
    handle.set_usage(
        input_tokens=_get(usage, "input_tokens"),
        output_tokens=_get(usage, "output_tokens"),
        cache_read_tokens=_get(details_in, "cached_tokens") or None,
        cache_write_tokens=_get(details_in, "cache_write_tokens") or None,
        reasoning_tokens=_get(details_out, "reasoning_tokens") or None,
    )
