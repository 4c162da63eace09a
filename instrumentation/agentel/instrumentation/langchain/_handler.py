"""The LangChain callback handler that turns runs into OpenTelemetry spans.

Imported only by ``LangChainInstrumentor.instrument()`` (it subclasses langchain_core's
``BaseCallbackHandler``). Parents come from LangChain's own ``parent_run_id``, so the tree is
right whatever thread or task a callback arrives on; the span of a running chain, tool or
model call is also made the current OpenTelemetry span, so spans of other instrumentations
(the OpenAI SDK call ChatOpenAI makes) nest under it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from .._attach import Attachments
from .._common import as_token_count, clean_attributes, log_once
from .._config import InstrumentationConfig
from .._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle

FRAMEWORK = "langchain"

# LangChain message types -> GenAI roles.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}

# Runs LangSmith hides are plumbing (graph channel writes, branch routing), not steps.
_HIDDEN_TAG = "langsmith:hidden"


def _is_control_flow(error: BaseException) -> bool:
    # LangGraph signals interrupts and hand-offs with GraphBubbleUp subclasses: not failures.
    return any(cls.__name__ == "GraphBubbleUp" for cls in type(error).__mro__)


class AgentelCallbackHandler(BaseCallbackHandler):
    """Spans for LangChain / LangGraph runs: invocations, chain steps, chat models, tools."""

    run_inline = True  # called in the caller's task, so context changes stay where they belong
    raise_error = False

    def __init__(
        self,
        tracer: trace.Tracer,
        config: InstrumentationConfig,
        *,
        chain_spans: bool = True,
        root_operation: str = Operation.INVOKE_AGENT,
    ) -> None:
        super().__init__()
        self._tracer = tracer
        self._config = config
        self._chain_spans = chain_spans
        self._root_operation = root_operation
        self._handles: dict[UUID, SpanHandle] = {}
        # Runs without a span of their own: their children hang under this context instead.
        self._passthrough: dict[UUID, otel_context.Context] = {}
        self._contexts: dict[UUID, otel_context.Context] = {}
        self._lock = threading.Lock()
        self.attachments = Attachments()

    # --- bookkeeping ---------------------------------------------------------------------------

    def _parent_context(self, parent_run_id: UUID | None) -> otel_context.Context:
        if parent_run_id is not None:
            with self._lock:
                ctx = self._contexts.get(parent_run_id) or self._passthrough.get(parent_run_id)
            if ctx is not None:
                return ctx
        return otel_context.get_current()

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any],
        handle_type: type[SpanHandle],
        content: Mapping[str, Any] | None = None,
        **handle_kwargs: Any,
    ) -> None:
        parent = self._parent_context(parent_run_id)
        span = self._tracer.start_span(
            name, context=parent, kind=kind, attributes=clean_attributes(attributes)
        )
        handle = handle_type(span, **handle_kwargs)
        if content:
            handle.capture(self._config, content)
        ctx = trace.set_span_in_context(span, parent)
        with self._lock:
            self._handles[run_id] = handle
            self._contexts[run_id] = ctx
        self.attachments.attach(run_id, ctx)

    def _skip(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        ctx = self._parent_context(parent_run_id)
        with self._lock:
            self._passthrough[run_id] = ctx

    def _pop(self, run_id: UUID) -> SpanHandle | None:
        self.attachments.release(run_id)
        with self._lock:
            self._contexts.pop(run_id, None)
            self._passthrough.pop(run_id, None)
            return self._handles.pop(run_id, None)

    def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
        handle = self._pop(run_id)
        if handle is not None:
            handle.end(None if error is None or _is_control_flow(error) else error)

    # --- chains: invocations and steps ------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = _run_name(serialized, kwargs, "chain")
            if parent_run_id is None:
                self._start_invocation(run_id, name)
            elif self._chain_spans and _HIDDEN_TAG not in (tags or ()):
                attributes = {A.AGENTEL_FRAMEWORK: FRAMEWORK}
                self._start(run_id, parent_run_id, name, SpanKind.INTERNAL, attributes, SpanHandle)
            else:
                self._skip(run_id, parent_run_id)
        except Exception:
            log_once("langchain.on_chain_start", "could not start a chain span")

    def _start_invocation(self, run_id: UUID, name: str) -> None:
        operation = self._root_operation
        name_key = A.GEN_AI_WORKFLOW_NAME if operation == Operation.INVOKE_WORKFLOW else None
        attributes = {
            A.GEN_AI_OPERATION_NAME: operation,
            name_key or A.GEN_AI_AGENT_NAME: name,
            A.AGENTEL_FRAMEWORK: FRAMEWORK,
        }
        self._start(run_id, None, f"{operation} {name}", SpanKind.INTERNAL, attributes, AgentHandle)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # --- models -------------------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        content = None
        if self._config.capture_content and messages:
            content = [_message(m) for m in messages[0]]
        self._start_model(
            Operation.CHAT,
            run_id,
            parent_run_id,
            metadata,
            kwargs,
            A.GEN_AI_INPUT_MESSAGES,
            content,
        )

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        content = prompts[0] if prompts else None
        self._start_model(
            Operation.TEXT_COMPLETION,
            run_id,
            parent_run_id,
            metadata,
            kwargs,
            A.GEN_AI_INPUT_MESSAGES,
            content,
        )

    def _start_model(
        self,
        operation: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
        content_key: str,
        content: Any,
    ) -> None:
        try:
            params = kwargs.get("invocation_params") or {}
            metadata = metadata or {}
            model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name")
            provider = metadata.get("ls_provider")
            attributes = {
                A.GEN_AI_OPERATION_NAME: operation,
                A.GEN_AI_PROVIDER_NAME: provider,
                A.GEN_AI_REQUEST_MODEL: model,
                A.GEN_AI_REQUEST_TEMPERATURE: params.get("temperature"),
                A.GEN_AI_REQUEST_TOP_P: params.get("top_p"),
                A.GEN_AI_REQUEST_MAX_TOKENS: params.get("max_tokens")
                or params.get("max_completion_tokens"),
                A.AGENTEL_FRAMEWORK: FRAMEWORK,
            }
            name = f"{operation} {model}" if model else operation
            self._start(
                run_id,
                parent_run_id,
                name,
                SpanKind.CLIENT,
                attributes,
                LLMHandle,
                {content_key: content},
                model=model,
                provider=provider,
            )
        except Exception:
            log_once("langchain.model_start", "could not start a model span")

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        handle = self._pop(run_id)
        if not isinstance(handle, LLMHandle):
            return
        try:
            _record_response(handle, response, self._config)
        except Exception:
            log_once("langchain.on_llm_end", "could not read a model response")
        handle.end()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # --- tools and retrievers ---------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = _run_name(serialized, kwargs, "tool")
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.EXECUTE_TOOL,
                A.GEN_AI_TOOL_NAME: name,
                A.GEN_AI_TOOL_CALL_ID: kwargs.get("tool_call_id"),
                A.GEN_AI_TOOL_TYPE: "function",
                A.GEN_AI_TOOL_DESCRIPTION: (serialized or {}).get("description"),
                A.AGENTEL_FRAMEWORK: FRAMEWORK,
            }
            self._start(
                run_id,
                parent_run_id,
                f"{Operation.EXECUTE_TOOL} {name}",
                SpanKind.INTERNAL,
                attributes,
                ToolHandle,
                {A.GEN_AI_TOOL_CALL_ARGUMENTS: input_str},
            )
        except Exception:
            log_once("langchain.on_tool_start", "could not start a tool span")

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        handle = self._pop(run_id)
        if handle is None:
            return
        result = getattr(output, "content", output)
        handle.capture(self._config, {A.GEN_AI_TOOL_CALL_RESULT: result})
        handle.end()

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            name = _run_name(serialized, kwargs, "retriever")
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.RETRIEVAL,
                A.AGENTEL_FRAMEWORK: FRAMEWORK,
            }
            self._start(
                run_id,
                parent_run_id,
                f"{Operation.RETRIEVAL} {name}",
                SpanKind.INTERNAL,
                attributes,
                SpanHandle,
            )
        except Exception:
            log_once("langchain.on_retriever_start", "could not start a retriever span")

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    def open_runs(self) -> int:
        """Runs started and not yet ended (for tests: nothing may leak)."""
        with self._lock:
            return len(self._handles) + len(self._passthrough)


# --- reading LangChain objects ------------------------------------------------------------------


def _run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name") or (serialized or {}).get("name")
    if not name:
        ids = (serialized or {}).get("id")
        name = ids[-1] if isinstance(ids, Sequence) and ids else default
    return str(name)


def _message(message: Any) -> dict[str, Any]:
    role = _ROLES.get(getattr(message, "type", ""), getattr(message, "type", "user"))
    content = getattr(message, "content", message)
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _record_response(handle: LLMHandle, response: Any, config: InstrumentationConfig) -> None:
    generations = [g for batch in getattr(response, "generations", None) or [] for g in batch]
    first = generations[0] if generations else None
    message = getattr(first, "message", None)
    usage = getattr(message, "usage_metadata", None)
    llm_output = getattr(response, "llm_output", None) or {}
    if usage:
        details_in = usage.get("input_token_details") or {}
        details_out = usage.get("output_token_details") or {}
        handle.set_usage(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cache_read_tokens=as_token_count(details_in.get("cache_read")) or None,
            cache_write_tokens=as_token_count(details_in.get("cache_creation")) or None,
            reasoning_tokens=as_token_count(details_out.get("reasoning")) or None,
        )
    else:
        counts = llm_output.get("token_usage") or llm_output.get("usage") or {}
        handle.set_usage(
            input_tokens=counts.get("prompt_tokens", counts.get("input_tokens")),
            output_tokens=counts.get("completion_tokens", counts.get("output_tokens")),
        )
    meta = getattr(message, "response_metadata", None) or {}
    info = getattr(first, "generation_info", None) or {}
    finish = meta.get("finish_reason") or info.get("finish_reason")
    handle.set_response(
        model=meta.get("model_name") or llm_output.get("model_name"),
        id=meta.get("id"),
        finish_reasons=[finish] if finish else None,
    )
    if message is not None:
        handle.capture(config, {A.GEN_AI_OUTPUT_MESSAGES: [_message(message)]})
    elif first is not None:
        handle.capture(config, {A.GEN_AI_OUTPUT_MESSAGES: getattr(first, "text", None)})
