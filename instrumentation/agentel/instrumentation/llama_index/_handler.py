"""The LlamaIndex dispatcher handlers: which LlamaIndex spans and events become which spans."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from .._common import clean_attributes, guarded, log_once
from .._config import InstrumentationConfig
from .._content import record_content
from .._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle

AGENT, WORKFLOW, LLM, TOOL, RETRIEVER, EMBEDDING = (
    "agent",
    "workflow",
    "llm",
    "tool",
    "retriever",
    "embedding",
)

_RUN_METHODS = frozenset({"run"})
_ENGINE_METHODS = frozenset({"query", "aquery", "chat", "achat", "stream_chat", "astream_chat"})
_TOOL_METHODS = frozenset({"call", "acall"})
_RETRIEVER_METHODS = frozenset({"retrieve", "aretrieve"})
_EMBEDDING_METHODS = frozenset(
    {
        "get_query_embedding",
        "aget_query_embedding",
        "get_text_embedding",
        "aget_text_embedding",
        "get_text_embedding_batch",
        "aget_text_embedding_batch",
    }
)
_PROVIDERS = {"OpenAI": "openai", "AzureOpenAI": "azure.ai.openai", "Anthropic": "anthropic"}
_MAX_OPEN_CALLS = 4096
"""LLM calls started and not yet ended (a stream nobody finishes never sends its end event)."""


def _method(span_id: str) -> str:
    """``FunctionAgent.run-<uuid4>`` -> ``run``."""
    qualified = span_id.rsplit("-", 5)[0] if span_id.count("-") >= 5 else span_id
    return qualified.rsplit(".", 1)[-1]


class _Classes:
    """The LlamaIndex base classes, imported once when the handlers are made."""

    def __init__(self) -> None:
        from llama_index.core.base.base_query_engine import BaseQueryEngine
        from llama_index.core.base.base_retriever import BaseRetriever
        from llama_index.core.base.embeddings.base import BaseEmbedding
        from llama_index.core.base.llms.base import BaseLLM
        from llama_index.core.chat_engine.types import BaseChatEngine
        from llama_index.core.tools.types import BaseTool
        from llama_index.core.workflow import Workflow

        self.engines: tuple[type, ...] = (BaseQueryEngine, BaseChatEngine)
        self.retriever = BaseRetriever
        self.embedding = BaseEmbedding
        self.llm = BaseLLM
        self.tool = BaseTool
        self.workflow = Workflow

    def classify(self, span_id: str, instance: Any) -> str | None:
        if instance is None:
            return None
        method = _method(span_id)
        if isinstance(instance, self.llm):
            return LLM
        if isinstance(instance, self.workflow) and method in _RUN_METHODS:
            return AGENT if _agent_name(instance) else WORKFLOW
        if isinstance(instance, self.tool) and method in _TOOL_METHODS:
            return TOOL
        if isinstance(instance, self.retriever) and method in _RETRIEVER_METHODS:
            return RETRIEVER
        if isinstance(instance, self.embedding) and method in _EMBEDDING_METHODS:
            return EMBEDDING
        if isinstance(instance, self.engines) and method in _ENGINE_METHODS:
            return WORKFLOW
        return None


def _agent_name(instance: Any) -> str | None:
    """The name of a single agent (FunctionAgent, ReActAgent...), not of a multi-agent workflow."""
    name = getattr(instance, "name", None)
    has_llm = getattr(instance, "llm", None) is not None
    return name if isinstance(name, str) and name and has_llm else None


def _model(instance: Any) -> str | None:
    for attr in ("model", "model_name"):
        value = getattr(instance, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def usage_of(response: Any) -> dict[str, int | None]:
    """Token counts from a LlamaIndex chat/completion response (its raw provider response)."""
    raw = getattr(response, "raw", None)
    usage = _field(raw, "usage") if raw is not None else None
    extra = getattr(response, "additional_kwargs", None) or {}
    if usage is None and not any(k in extra for k in ("prompt_tokens", "input_tokens")):
        return {}
    source = usage if usage is not None else extra
    prompt_details = _field(source, "prompt_tokens_details")
    completion_details = _field(source, "completion_tokens_details")
    return {
        "input_tokens": _field(source, "prompt_tokens") or _field(source, "input_tokens"),
        "output_tokens": _field(source, "completion_tokens") or _field(source, "output_tokens"),
        "cache_read_tokens": _field(prompt_details, "cached_tokens")
        or _field(source, "cache_read_input_tokens"),
        "cache_write_tokens": _field(source, "cache_creation_input_tokens"),
        "reasoning_tokens": _field(completion_details, "reasoning_tokens"),
    }


def _messages(messages: Any) -> list[dict[str, Any]]:
    """LlamaIndex ChatMessages in the official parts-based shape."""
    out = []
    for message in messages or ():
        role = getattr(getattr(message, "role", None), "value", None) or "user"
        text = getattr(message, "content", None)
        parts = [{"type": "text", "content": text}] if text else []
        out.append({"role": role, "parts": parts})
    return out


class Tracker:
    """State shared by the span and event handlers: LlamaIndex span id -> agentel span."""

    def __init__(self, tracer: trace.Tracer, config: InstrumentationConfig) -> None:
        self._tracer = tracer
        self._config = config
        self._classes: _Classes | None = None
        self._lock = threading.Lock()
        # LlamaIndex span id -> the context its children start in (their recorded ancestor)
        self._contexts: dict[str, context.Context] = {}
        # recorded LlamaIndex spans: id -> (handle, token of the context attached, if any)
        self._open: dict[str, tuple[SpanHandle, object | None]] = {}
        # LLM-method spans: id -> (context, model, provider) for the call their events start
        self._llm_spans: dict[str, tuple[context.Context, str | None, str | None]] = {}
        # LLM calls between their start and end events: LlamaIndex span id -> (handle, token)
        self._calls: OrderedDict[str, tuple[LLMHandle, object | None]] = OrderedDict()

    @property
    def classes(self) -> _Classes:
        if self._classes is None:
            self._classes = _Classes()
        return self._classes

    # --- spans -------------------------------------------------------------------------------

    def enter(self, span_id: str, instance: Any, bound_args: Any, parent_id: str | None) -> None:
        with self._lock:
            parent = self._contexts.get(parent_id) if parent_id else None
        if parent is None:
            parent = context.get_current()
        kind = self.classes.classify(span_id, instance)
        ctx = parent
        if kind == LLM:
            provider = _PROVIDERS.get(type(instance).__name__, type(instance).__name__.lower())
            with self._lock:
                self._llm_spans[span_id] = (parent, _model(instance), provider)
        elif kind is not None:
            handle = self._start(kind, instance, bound_args, parent)
            ctx = trace.set_span_in_context(handle.span, parent)
            # tools, retrievers and embeddings enter and exit in one call: their context can
            # be made current, so what they call (a provider SDK) nests under them
            token = context.attach(ctx) if kind in (TOOL, RETRIEVER, EMBEDDING) else None
            with self._lock:
                self._open[span_id] = (handle, token)
        with self._lock:
            self._contexts[span_id] = ctx

    def _start(self, kind: str, instance: Any, bound_args: Any, parent: context.Context) -> Any:
        cls = type(instance).__name__
        if kind == AGENT:
            name = _agent_name(instance)
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.INVOKE_AGENT,
                A.GEN_AI_AGENT_NAME: name,
            }
            return self._span(f"{Operation.INVOKE_AGENT} {name}", attributes, parent, AgentHandle)
        if kind == WORKFLOW:
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.INVOKE_WORKFLOW,
                A.GEN_AI_WORKFLOW_NAME: cls,
            }
            return self._span(f"{Operation.INVOKE_WORKFLOW} {cls}", attributes, parent, AgentHandle)
        if kind == TOOL:
            tool = getattr(getattr(instance, "metadata", None), "name", None) or cls
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.EXECUTE_TOOL,
                A.GEN_AI_TOOL_NAME: tool,
                A.GEN_AI_TOOL_DESCRIPTION: getattr(instance.metadata, "description", None),
            }
            handle = self._span(f"{Operation.EXECUTE_TOOL} {tool}", attributes, parent, ToolHandle)
            if self._config.capture_content and bound_args is not None:
                arguments = dict(bound_args.arguments)
                arguments.update(arguments.pop("kwargs", None) or {})
                record_content(handle.span, self._config, {A.GEN_AI_TOOL_CALL_ARGUMENTS: arguments})
            return handle
        if kind == RETRIEVER:
            attributes = {
                A.GEN_AI_OPERATION_NAME: Operation.RETRIEVAL,
                A.GEN_AI_DATA_SOURCE_ID: cls,
            }
            return self._span(f"{Operation.RETRIEVAL} {cls}", attributes, parent, SpanHandle)
        model = _model(instance)
        model = model if model and model != "unknown" else cls
        attributes = {
            A.GEN_AI_OPERATION_NAME: Operation.EMBEDDINGS,
            A.GEN_AI_REQUEST_MODEL: model,
            A.GEN_AI_PROVIDER_NAME: _PROVIDERS.get(cls.replace("Embedding", ""), cls.lower()),
        }
        return self._span(f"{Operation.EMBEDDINGS} {model}", attributes, parent, SpanHandle)

    def _span(
        self, name: str, attributes: dict[str, Any], parent: context.Context, factory: Any
    ) -> Any:
        kind = SpanKind.CLIENT if factory is SpanHandle else SpanKind.INTERNAL
        span = self._tracer.start_span(
            name, context=parent, kind=kind, attributes=clean_attributes(attributes)
        )
        return factory(span)

    def exit(self, span_id: str, result: Any = None, error: BaseException | None = None) -> None:
        with self._lock:
            self._contexts.pop(span_id, None)
            self._llm_spans.pop(span_id, None)
            opened = self._open.pop(span_id, None)
            call = self._calls.pop(span_id, None) if error is not None else None
        if call is not None:
            self._end_call(call, error)
        if opened is None:
            return
        handle, token = opened
        if token is not None:
            context.detach(token)  # type: ignore[arg-type]
        if (
            error is None
            and isinstance(handle, ToolHandle)
            and self._config.capture_content
            and result is not None
        ):
            output = getattr(result, "content", result)
            record_content(handle.span, self._config, {A.GEN_AI_TOOL_CALL_RESULT: str(output)})
        handle.end(error)

    # --- events ------------------------------------------------------------------------------

    def event(self, event: Any) -> None:
        name = type(event).__name__
        span_id = getattr(event, "span_id", None)
        if not span_id:
            return
        if name in ("LLMChatStartEvent", "LLMCompletionStartEvent"):
            self._start_call(span_id, event)
        elif name in ("LLMChatEndEvent", "LLMCompletionEndEvent"):
            with self._lock:
                call = self._calls.pop(span_id, None)
            if call is not None:
                self._finish_call(call[0], event)
                self._end_call(call, None)
        elif name == "RetrievalEndEvent":
            with self._lock:
                opened = self._open.get(span_id)
            if opened is not None:
                nodes = getattr(event, "nodes", None) or []
                scores = [float(n.score) for n in nodes if getattr(n, "score", None) is not None]
                opened[0].set_attributes(
                    {
                        A.AGENTEL_RETRIEVAL_DOCUMENT_COUNT: len(nodes),
                        A.AGENTEL_RETRIEVAL_SCORES: scores,
                    }
                )

    def _start_call(self, span_id: str, event: Any) -> None:
        with self._lock:
            found = self._llm_spans.get(span_id)
        if found is None:
            return
        parent, model, provider = found
        operation = Operation.CHAT if "Chat" in type(event).__name__ else Operation.TEXT_COMPLETION
        attributes = {
            A.GEN_AI_OPERATION_NAME: operation,
            A.GEN_AI_PROVIDER_NAME: provider,
            A.GEN_AI_REQUEST_MODEL: model,
        }
        span = self._tracer.start_span(
            f"{operation} {model}" if model else operation,
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=clean_attributes(attributes),
        )
        handle = LLMHandle(span, model=model, provider=provider)
        if self._config.capture_content:
            messages = getattr(event, "messages", None)
            prompt = getattr(event, "prompt", None)
            inputs = (
                _messages(messages)
                if messages
                else [{"role": "user", "parts": [{"type": "text", "content": prompt}]}]
            )
            record_content(span, self._config, {A.GEN_AI_INPUT_MESSAGES: inputs})
        # the provider SDK is called after this event, in the same task: make the call current
        token = context.attach(trace.set_span_in_context(span, parent))
        with self._lock:
            self._calls[span_id] = (handle, token)
            stale = self._calls.popitem(last=False) if len(self._calls) > _MAX_OPEN_CALLS else None
        if stale is not None:
            stale[1][0].end()

    def _finish_call(self, handle: LLMHandle, event: Any) -> None:
        response = getattr(event, "response", None)
        if response is None:
            return
        handle.set_usage(**usage_of(response))
        raw = getattr(response, "raw", None)
        choices = _field(raw, "choices") or ()
        reasons = [_field(c, "finish_reason") for c in choices] or [_field(raw, "stop_reason")]
        handle.set_response(
            model=_field(raw, "model"),
            id=_field(raw, "id"),
            finish_reasons=[r for r in reasons if isinstance(r, str)],
        )
        if self._config.capture_content:
            message = getattr(response, "message", None)
            text = getattr(response, "text", None)
            outputs = (
                _messages([message])
                if message is not None
                else [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
            )
            record_content(handle.span, self._config, {A.GEN_AI_OUTPUT_MESSAGES: outputs})

    @staticmethod
    def _end_call(call: tuple[LLMHandle, object | None], error: BaseException | None) -> None:
        handle, token = call
        if token is not None:
            try:
                context.detach(token)  # type: ignore[arg-type]
            except Exception:
                log_once("llama_index.detach", "an LLM call's context could not be detached")
        handle.end(error)


def make_handlers(tracker: Tracker) -> tuple[Any, Any]:
    """A LlamaIndex span handler and event handler that feed ``tracker``."""
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span import SimpleSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
    from pydantic import PrivateAttr

    class AgentelSpanHandler(BaseSpanHandler[SimpleSpan]):  # type: ignore[misc,valid-type]
        """Opens and ends agentel spans for the LlamaIndex spans that matter to a run."""

        _tracker: Tracker = PrivateAttr()

        @classmethod
        def class_name(cls) -> str:
            return "AgentelSpanHandler"

        def new_span(
            self,
            id_: str,
            bound_args: Any,
            instance: Any = None,
            parent_span_id: str | None = None,
            tags: Any = None,
            **kwargs: Any,
        ) -> SimpleSpan:
            with guarded("llama_index.new_span", "record a LlamaIndex span"):
                self._tracker.enter(id_, instance, bound_args, parent_span_id)
            return SimpleSpan(id_=id_, parent_id=parent_span_id)

        def prepare_to_exit_span(
            self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kw: Any
        ) -> SimpleSpan | None:
            with guarded("llama_index.exit_span", "end a LlamaIndex span"):
                self._tracker.exit(id_, result=result)
            return self.open_spans.get(id_)

        def prepare_to_drop_span(
            self, id_: str, bound_args: Any, instance: Any = None, err: Any = None, **kw: Any
        ) -> SimpleSpan | None:
            with guarded("llama_index.drop_span", "end a failed LlamaIndex span"):
                self._tracker.exit(id_, error=err if isinstance(err, BaseException) else None)
            return self.open_spans.get(id_)

    class AgentelEventHandler(BaseEventHandler):  # type: ignore[misc,valid-type]
        """Starts and ends LLM calls and adds retrieval results from LlamaIndex events."""

        _tracker: Tracker = PrivateAttr()

        @classmethod
        def class_name(cls) -> str:
            return "AgentelEventHandler"

        def handle(self, event: Any, **kwargs: Any) -> None:
            with guarded("llama_index.event", "record a LlamaIndex event"):
                self._tracker.event(event)

    span_handler = AgentelSpanHandler()
    span_handler._tracker = tracker
    event_handler = AgentelEventHandler()
    event_handler._tracker = tracker
    return span_handler, event_handler
