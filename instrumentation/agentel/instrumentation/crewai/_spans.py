"""The CrewAI wrappers: which CrewAI call becomes which span, and what it records.

Every span is opened and closed by a wrapper around the CrewAI method itself, in the caller's
thread and context: CrewAI's event bus runs its handlers on a thread of its own, so the
current span cannot be followed from its events. Each span is made current while the method
runs, so what it calls nests under it (an agent under its task, a provider SDK's span under
the LLM call), and each wrapper lets the call through untouched when it re-enters the same
object (a retried ``execute_task``, ``akickoff`` calling ``kickoff_async``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from .. import _parts as P
from .._common import clean_attributes, log_once
from .._config import InstrumentationConfig
from .._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle
from ..openai._chat import input_messages

FRAMEWORK = "crewai"
CREW, TASK, AGENT, TOOL, LLM = "crew", "task", "agent", "tool", "llm"
TOOL_ERROR = "tool_error"
"""``error.type`` of a tool run that returned CrewAI's ``ToolFailure`` instead of raising."""

_OPEN_KEY = context.create_key("agentel-crewai-open")
"""Context value: (kind, owner, handle) of the innermost open CrewAI span."""

# CrewAI's provider names -> gen_ai.provider.name (official values where they exist)
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
}

Opened = tuple[SpanHandle, object]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tool_owner(tool: Any) -> Any:
    """A structured tool stands for the tool it was made from."""
    return getattr(tool, "_original_tool", None) or tool


def _argument(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None


def _tool_input(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """A tool's arguments: ``invoke(input)``'s input, ``run(**kwargs)``'s keywords."""
    if "input" in kwargs:
        return kwargs["input"]
    if args:
        return args[0] if len(args) == 1 else list(args)
    return dict(kwargs)


def _model_and_provider(llm: Any) -> tuple[str | None, str | None]:
    """An LLM's model (without a ``provider/`` prefix) and its gen_ai.provider.name."""
    model = _text(getattr(llm, "model", None))
    provider = _text(getattr(llm, "provider", None))
    if model and "/" in model:
        prefix, _, rest = model.partition("/")
        if provider is None or prefix == provider:
            provider, model = prefix, rest
    return model, _PROVIDERS.get(provider, provider) if provider else None


def _count(usage: Any, *names: str) -> int | None:
    for name in names:
        value = P.get(usage, name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def usage_counts(usage: Any) -> dict[str, int | None]:
    """Token counts from the usage dict a CrewAI LLM tracks, whichever provider filled it.

    Input includes cache reads and writes (OpenAI, Gemini and CrewAI's Anthropic provider
    report it so; a raw Anthropic or Bedrock block reports them beside it).
    """
    if usage is None:
        return {}
    input_tokens = _count(usage, "prompt_tokens", "prompt_token_count")
    cache_read = _count(
        usage,
        "cached_prompt_tokens",
        "cached_tokens",
        "cache_read_input_tokens",
        "cacheReadInputTokens",
        "cacheReadInputTokenCount",
    )
    if cache_read is None:
        cache_read = _count(P.get(usage, "prompt_tokens_details"), "cached_tokens")
    cache_write = _count(
        usage,
        "cache_creation_tokens",
        "cache_creation_input_tokens",
        "cacheWriteInputTokens",
        "cacheWriteInputTokenCount",
    )
    if input_tokens is None:
        input_tokens = _count(usage, "input_tokens", "inputTokens")
        folded = _count(usage, "cached_prompt_tokens", "cache_creation_tokens") is not None
        if input_tokens is not None and not folded:
            input_tokens += (cache_read or 0) + (cache_write or 0)
    reasoning = _count(usage, "reasoning_tokens")
    if reasoning is None:
        reasoning = _count(P.get(usage, "completion_tokens_details"), "reasoning_tokens")
    return {
        "input_tokens": input_tokens,
        "output_tokens": _count(
            usage, "completion_tokens", "output_tokens", "outputTokens", "candidates_token_count"
        ),
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": reasoning,
    }


def _output_messages(response: Any, finish_reason: Any) -> list[dict[str, Any]]:
    """An LLM call's answer (text, or the tool calls CrewAI hands back) as an output message."""
    if isinstance(response, (list, tuple)):
        parts = []
        for call in response:
            function = P.get(call, "function")
            parts.append(
                P.tool_call(
                    P.get(call, "id"),
                    P.get(function, "name") or P.get(call, "name"),
                    P.get(function, "arguments") or P.get(call, "input"),
                )
            )
    else:
        parts = [P.text(response if isinstance(response, str) else str(response))]
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    reason = P.finish_reason(finish_reason)
    if reason:
        message["finish_reason"] = reason
    return [message]


class Spans:
    """Opens and closes the spans of one instrumentor (its tracer and content settings)."""

    def __init__(self, tracer: trace.Tracer, config: InstrumentationConfig) -> None:
        self._tracer = tracer
        self._config = config

    # --- the wrapt wrappers ------------------------------------------------------------------

    def sync(self, kind: str) -> Callable[..., Any]:
        """A wrapt wrapper that records each call of a CrewAI method as a ``kind`` span."""

        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            opened = self._open(kind, instance, args, kwargs)
            if opened is None:
                return wrapped(*args, **kwargs)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                self._close(kind, opened, error=exc)
                raise
            self._close(kind, opened, result=result)
            return result

        return wrapper

    def coroutine(self, kind: str) -> Callable[..., Any]:
        """The same for an ``async def`` method: the span covers the awaited call."""

        async def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            opened = self._open(kind, instance, args, kwargs)
            if opened is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                self._close(kind, opened, error=exc)
                raise
            self._close(kind, opened, result=result)
            return result

        return wrapper

    def usage(self) -> Callable[..., Any]:
        """A wrapper for ``BaseLLM._track_token_usage_internal``: each API response's usage,
        added to the LLM call it belongs to."""

        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            try:
                handle = _open_call(instance)
                if handle is not None:
                    _add_usage(handle, usage_counts(_argument(args, kwargs, 0, "usage_data")))
            except Exception:
                log_once("crewai.usage", "could not record a CrewAI LLM call's usage")
            return wrapped(*args, **kwargs)

        return wrapper

    def completed(self) -> Callable[..., Any]:
        """A wrapper for ``BaseLLM._emit_call_completed_event``: response id, finish reason
        and (with content capture on) the answer, on the LLM call it completes."""

        def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
            try:
                handle = _open_call(instance)
                if handle is not None:
                    reason = kwargs.get("finish_reason")
                    handle.set_response(
                        id=_text(kwargs.get("response_id")),
                        finish_reasons=[reason] if isinstance(reason, str) else None,
                    )
                    if self._config.capture_content:
                        response = _argument(args, kwargs, 0, "response")
                        handle.capture(
                            self._config,
                            {A.GEN_AI_OUTPUT_MESSAGES: _output_messages(response, reason)},
                        )
            except Exception:
                log_once("crewai.completed", "could not record a CrewAI LLM call's response")
            return wrapped(*args, **kwargs)

        return wrapper

    # --- spans ---------------------------------------------------------------------------------

    def _open(
        self, kind: str, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Opened | None:
        """Start and attach the span of one call; None: record nothing, let the call through."""
        try:
            owner = _tool_owner(instance) if kind == TOOL else instance
            current = context.get_value(_OPEN_KEY)
            if isinstance(current, tuple) and current[0] == kind and current[1] is owner:
                return None  # the same object calling itself again: already recorded
            if kind == CREW and getattr(instance, "stream", False):
                return None  # a streaming kickoff runs itself again, unstreamed: recorded there
            handle = self._start(kind, instance, args, kwargs)
            ctx = context.set_value(_OPEN_KEY, (kind, owner, handle))
            return handle, context.attach(trace.set_span_in_context(handle.span, ctx))
        except Exception:
            log_once(f"crewai.{kind}.start", f"could not start the span of a CrewAI {kind}")
            return None

    def _start(
        self, kind: str, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> SpanHandle:
        attributes: dict[str, Any] = {A.AGENTEL_FRAMEWORK: FRAMEWORK}
        if kind == CREW:
            name = _text(getattr(instance, "name", None)) or "crew"
            attributes[A.GEN_AI_OPERATION_NAME] = Operation.INVOKE_WORKFLOW
            attributes[A.GEN_AI_WORKFLOW_NAME] = name
            return self._span(f"{Operation.INVOKE_WORKFLOW} {name}", attributes, AgentHandle)
        if kind == TASK:
            name = _text(getattr(instance, "name", None)) or "task"
            attributes[A.AGENTEL_STEP_NAME] = name
            attributes[A.AGENTEL_STEP_TYPE] = "task"
            return self._span(f"step {name}", attributes, SpanHandle)
        if kind == AGENT:
            role = _text(getattr(instance, "role", None)) or type(instance).__name__
            model, _ = _model_and_provider(getattr(instance, "llm", None))
            attributes[A.GEN_AI_OPERATION_NAME] = Operation.INVOKE_AGENT
            attributes[A.GEN_AI_AGENT_NAME] = role
            attributes[A.GEN_AI_AGENT_ID] = str(getattr(instance, "id", "") or "") or None
            attributes[A.GEN_AI_REQUEST_MODEL] = model
            return self._span(f"{Operation.INVOKE_AGENT} {role}", attributes, AgentHandle)
        if kind == TOOL:
            name = _text(getattr(instance, "name", None)) or type(instance).__name__
            attributes[A.GEN_AI_OPERATION_NAME] = Operation.EXECUTE_TOOL
            attributes[A.GEN_AI_TOOL_NAME] = name
            attributes[A.GEN_AI_TOOL_TYPE] = "function"
            attributes[A.GEN_AI_TOOL_DESCRIPTION] = _text(getattr(instance, "description", None))
            handle = self._span(f"{Operation.EXECUTE_TOOL} {name}", attributes, ToolHandle)
            handle.capture(self._config, {A.GEN_AI_TOOL_CALL_ARGUMENTS: _tool_input(args, kwargs)})
            return handle
        model, provider = _model_and_provider(instance)
        attributes[A.GEN_AI_OPERATION_NAME] = Operation.CHAT
        attributes[A.GEN_AI_PROVIDER_NAME] = provider
        attributes[A.GEN_AI_REQUEST_MODEL] = model
        for key, field in (
            (A.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
            (A.GEN_AI_REQUEST_TOP_P, "top_p"),
            (A.GEN_AI_REQUEST_MAX_TOKENS, "max_tokens"),
            (A.GEN_AI_REQUEST_SEED, "seed"),
        ):
            value = getattr(instance, field, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[key] = value
        span = self._tracer.start_span(
            f"{Operation.CHAT} {model}" if model else Operation.CHAT,
            kind=SpanKind.CLIENT,
            attributes=clean_attributes(attributes),
        )
        handle = LLMHandle(span, model=model, provider=provider)
        if self._config.capture_content:
            messages = _argument(args, kwargs, 0, "messages")
            if isinstance(messages, str):
                messages = [{"role": "user", "content": messages}]
            handle.capture(self._config, {A.GEN_AI_INPUT_MESSAGES: input_messages(messages)})
        return handle

    def _span(self, name: str, attributes: dict[str, Any], factory: type[SpanHandle]) -> Any:
        span = self._tracer.start_span(
            name, kind=SpanKind.INTERNAL, attributes=clean_attributes(attributes)
        )
        return factory(span)

    def _close(
        self,
        kind: str,
        opened: Opened,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        handle, token = opened
        try:
            context.detach(token)  # type: ignore[arg-type]
        except Exception:
            log_once(f"crewai.{kind}.detach", f"could not detach a CrewAI {kind}'s context")
        try:
            if error is None:
                self._finish(kind, handle, result)
        except Exception:
            log_once(f"crewai.{kind}.finish", f"could not record a CrewAI {kind}'s result")
        handle.end(error)

    def _finish(self, kind: str, handle: SpanHandle, result: Any) -> None:
        if kind == TOOL:
            if type(result).__name__ == "ToolFailure":
                handle.set_attribute(A.ERROR_TYPE, TOOL_ERROR)
                message = str(getattr(result, "message", "") or "")
                handle.span.set_status(Status(StatusCode.ERROR, message))
            handle.capture(self._config, {A.GEN_AI_TOOL_CALL_RESULT: result})
        elif kind in (AGENT, CREW) and self._config.capture_content:
            output = getattr(result, "raw", result)
            message = {"role": "assistant", "parts": [P.text(str(output))]}
            handle.capture(self._config, {A.GEN_AI_OUTPUT_MESSAGES: [message]})


def _open_call(llm: Any) -> LLMHandle | None:
    """The LLM call of ``llm`` open in the current context, if any."""
    current = context.get_value(_OPEN_KEY)
    if isinstance(current, tuple) and current[0] == LLM and current[1] is llm:
        handle = current[2]
        return handle if isinstance(handle, LLMHandle) else None
    return None


def _add_usage(handle: LLMHandle, counts: Mapping[str, int | None]) -> None:
    """Add one API response's counts to the call's (a call may send several requests)."""
    so_far = handle.usage
    total = {
        key: (value + (getattr(so_far, key) or 0)) if value is not None else None
        for key, value in counts.items()
    }
    handle.set_usage(**total)
