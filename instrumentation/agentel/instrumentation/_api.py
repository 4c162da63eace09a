"""The manual API: ``agent``, ``llm`` and ``tool`` scopes, ``iteration``, ``record_event``,
``set_usage`` and ``set_model``.

Each scope is a context manager (``with`` / ``async with``) yielding a handle, and a decorator
for sync functions, coroutine functions, generators and async generators (for generators the
span covers the whole iteration, and the span is current only while the generator body runs).
With content capture on (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``), a decorated
function's return value -- for generators, the items it yielded, collected -- is recorded,
capped at ``AGENTEL_MAX_CONTENT_CHARS``.
Spans go to the global tracer provider; a provider installed after import is honoured.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, overload

from opentelemetry import context, trace
from opentelemetry.trace import SpanKind

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Operation

from ._common import TRACER_NAME, add_event, clean_attributes, log_once, set_attribute
from ._config import InstrumentationConfig
from ._handles import AgentHandle, LLMHandle, SpanHandle, ToolHandle
from .version import __version__

H = TypeVar("H", bound=SpanHandle)
F = TypeVar("F", bound=Callable[..., Any])

# The innermost agentel scope's LLM handle (None inside agent/tool scopes), so set_usage()
# finds "its" LLM span through the OTel context, across threads and tasks like the span does.
_ACTIVE_LLM_KEY = context.create_key("agentel-active-llm")

_tracer: trace.Tracer | None = None

# Scopes entered with ``with`` and not yet exited, per thread / asyncio task (one scope object
# may be entered concurrently, e.g. a module-level ``RETRIEVE = tool("retrieve")``), innermost
# last: (scope, handle, context token).
_OPEN_ENTRIES: contextvars.ContextVar[tuple[tuple[Any, SpanHandle, object], ...]] = (
    contextvars.ContextVar("agentel_open_scopes", default=())
)


def _get_tracer() -> trace.Tracer:
    # Before a provider is installed this is a ProxyTracer, which switches to the real
    # provider once one is set, so caching it is safe.
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME, __version__)
    return _tracer


def _is_error(exc: BaseException | None) -> bool:
    # A generator closed early (GeneratorExit) is not a failure of the wrapped work.
    return exc is not None and not isinstance(exc, GeneratorExit)


class Scope(Generic[H]):
    """An agent / llm / tool span to open: use as ``with``, ``async with`` or decorator.

    A scope object may be entered several times (even nested); each entry opens a new span.
    Used as a decorator, every call (or iteration, for generators) opens its own span.
    """

    __slots__ = ("_attributes", "_handle_factory", "_is_llm", "_kind", "_name", "_output_key")

    def __init__(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any],
        handle_factory: Callable[[trace.Span], H],
        *,
        is_llm: bool = False,
        output_key: str = A.GEN_AI_OUTPUT_MESSAGES,
    ) -> None:
        self._name = name
        self._kind = kind
        self._attributes = clean_attributes(attributes)
        self._handle_factory = handle_factory
        self._is_llm = is_llm
        self._output_key = output_key

    @property
    def name(self) -> str:
        """The span name this scope opens."""
        return self._name

    # --- span lifecycle ------------------------------------------------------------------

    def _start(self) -> tuple[H, context.Context]:
        attributes = self._attributes
        index = context.get_value(A.CONTEXT_ITERATION_KEY)
        if isinstance(index, int):
            attributes = {**attributes, A.AGENTEL_ITERATION: index}
        span = _get_tracer().start_span(self._name, kind=self._kind, attributes=attributes)
        handle = self._handle_factory(span)
        ctx = trace.set_span_in_context(span)
        ctx = context.set_value(_ACTIVE_LLM_KEY, handle if self._is_llm else None, ctx)
        return handle, ctx

    @staticmethod
    def _finish(handle: SpanHandle, token: object, exc: BaseException | None) -> None:
        try:
            context.detach(token)  # type: ignore[arg-type]
        finally:
            handle.end(exc if _is_error(exc) else None)

    # --- context manager -------------------------------------------------------------------

    def __enter__(self) -> H:
        handle, ctx = self._start()
        token = context.attach(ctx)
        _OPEN_ENTRIES.set((*_OPEN_ENTRIES.get(), (self, handle, token)))
        return handle

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        entries = _OPEN_ENTRIES.get()
        for i in range(len(entries) - 1, -1, -1):
            if entries[i][0] is self:
                _OPEN_ENTRIES.set(entries[:i] + entries[i + 1 :])
                _, handle, token = entries[i]
                self._finish(handle, token, exc)
                return
        log_once("Scope.__exit__", f"{self!r} exited without a matching enter", exc_info=False)

    async def __aenter__(self) -> H:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- decorator ---------------------------------------------------------------------------

    def __call__(self, func: F) -> F:
        if inspect.isasyncgenfunction(func):
            wrapper: Callable[..., Any] = self._wrap_async_generator(func)
        elif inspect.iscoroutinefunction(func):
            wrapper = self._wrap_coroutine(func)
        elif inspect.isgeneratorfunction(func):
            wrapper = self._wrap_generator(func)
        elif callable(func):
            wrapper = self._wrap_function(func)
        else:
            raise TypeError(f"cannot decorate {func!r}: not callable")
        return functools.wraps(func)(wrapper)  # type: ignore[return-value]

    def _wrap_function(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            handle, ctx = self._start()
            token = context.attach(ctx)
            try:
                result = func(*args, **kwargs)
            except BaseException as exc:
                self._finish(handle, token, exc)
                raise
            _record_output(handle, self._output_key, _Output.single(result))
            self._finish(handle, token, None)
            return result

        return wrapper

    def _wrap_coroutine(self, func: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            handle, ctx = self._start()
            token = context.attach(ctx)
            try:
                result = await func(*args, **kwargs)
            except BaseException as exc:
                self._finish(handle, token, exc)
                raise
            _record_output(handle, self._output_key, _Output.single(result))
            self._finish(handle, token, None)
            return result

        return wrapper

    def _wrap_generator(self, func: Callable[..., Generator[Any, Any, Any]]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            handle, ctx = self._start()
            output = _Output.collector()
            try:
                result = yield from _generator_in_context(func(*args, **kwargs), ctx, output)
            except BaseException as exc:
                _record_output(handle, self._output_key, output)
                handle.end(exc if _is_error(exc) else None)
                raise
            _record_output(handle, self._output_key, output)
            handle.end()
            return result

        return wrapper

    def _wrap_async_generator(
        self, func: Callable[..., AsyncGenerator[Any, Any]]
    ) -> Callable[..., Any]:
        # No ``yield from`` for async generators: forward asend/athrow/aclose by hand.
        async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            handle, ctx = self._start()
            output = _Output.collector()
            agen = func(*args, **kwargs)
            send_value: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    token = context.attach(ctx)
                    try:
                        if to_throw is not None:
                            exc, to_throw = to_throw, None
                            item = await agen.athrow(exc)
                        else:
                            item = await agen.asend(send_value)
                    except StopAsyncIteration:
                        break
                    finally:
                        context.detach(token)
                    output.add(item)
                    try:
                        send_value = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:
                        to_throw = exc
            except GeneratorExit:
                token = context.attach(ctx)
                try:
                    await agen.aclose()
                finally:
                    context.detach(token)
                    _record_output(handle, self._output_key, output)
                    handle.end()
                raise
            except BaseException as exc:
                _record_output(handle, self._output_key, output)
                handle.end(exc)
                raise
            _record_output(handle, self._output_key, output)
            handle.end()

        return wrapper

    def __repr__(self) -> str:
        return f"<agentel scope {self._name!r}>"


def _generator_in_context(
    gen: Generator[Any, Any, Any], ctx: context.Context, output: _Output
) -> Any:
    """Delegate to ``gen`` like ``yield from``, with ``ctx`` current only while it runs."""
    send_value: Any = None
    to_throw: BaseException | None = None
    while True:
        token = context.attach(ctx)
        try:
            if to_throw is not None:
                exc, to_throw = to_throw, None
                item = gen.throw(exc)
            else:
                item = gen.send(send_value)
        except StopIteration as stop:
            return stop.value
        finally:
            context.detach(token)
        output.add(item)
        try:
            send_value = yield item
        except GeneratorExit:
            token = context.attach(ctx)
            try:
                gen.close()
            finally:
                context.detach(token)
            raise
        except BaseException as exc:
            to_throw = exc


# --- output capture ----------------------------------------------------------------------------


class _Output:
    """A decorated call's output, kept only when content capture is on, capped as it grows.

    The setting is read from the environment at each call, so it can be switched at run time.
    Generators add their items one by one; collection stops once the cap is reached.
    """

    __slots__ = ("chars", "config", "enabled", "items", "limit", "truncated")

    def __init__(self, config: InstrumentationConfig) -> None:
        self.config = config
        self.enabled = config.capture_content
        self.limit = config.max_content_chars
        self.items: list[Any] = []
        self.chars = 0
        self.truncated = False

    @classmethod
    def collector(cls) -> _Output:
        return cls(InstrumentationConfig.resolve())

    @classmethod
    def single(cls, value: Any) -> _Output:
        out = cls.collector()
        if out.enabled:
            out.items.append(value)
        return out

    def add(self, item: Any) -> None:
        if not self.enabled or self.truncated:
            return
        try:
            self.chars += len(item) if isinstance(item, str) else len(_to_text(item))
        except Exception:
            self.chars = self.limit + 1
        self.items.append(item)
        self.truncated = self.chars > self.limit

    def text(self) -> str | None:
        """The output as text (strings joined, anything else as JSON); None if off."""
        if not self.enabled:
            return None
        if all(isinstance(item, str) for item in self.items):
            return "".join(self.items)
        if len(self.items) == 1:
            return _to_text(self.items[0])
        return _to_text(self.items)


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _record_output(handle: SpanHandle, key: str, output: _Output) -> None:
    """Capture the output: tool results as text, others as GenAI output messages."""
    if not output.enabled or handle.ended:
        return
    try:
        text = output.text()
        if text is None:
            return
        if key == A.GEN_AI_OUTPUT_MESSAGES:
            value: Any = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
        else:
            value = text
        handle.capture(output.config, {key: value})
    except Exception:
        log_once("record_output", "could not record a decorated call's output")


# --- public constructors ---------------------------------------------------------------------


def _callable_name(func: Any) -> str:
    return str(getattr(func, "__name__", None) or type(func).__name__)


@overload
def agent(
    name: str,
    *,
    id: str | None = ...,
    description: str | None = ...,
    version: str | None = ...,
    model: str | None = ...,
    conversation_id: str | None = ...,
    user_id: str | None = ...,
    workflow: bool = ...,
    attributes: Mapping[str, Any] | None = ...,
) -> Scope[AgentHandle]: ...


@overload
def agent(name: F) -> F: ...


def agent(
    name: Any,
    *,
    id: str | None = None,
    description: str | None = None,
    version: str | None = None,
    model: str | None = None,
    conversation_id: str | None = None,
    user_id: str | None = None,
    workflow: bool = False,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """An agent run: span ``invoke_agent {name}`` (or ``invoke_workflow {name}``), INTERNAL.

    Usable as ``with agent("planner") as run: ...``, ``async with``, ``@agent("planner")``
    (sync/async functions and generators) or bare ``@agent`` (named after the function).
    """
    if callable(name) and not isinstance(name, str):
        return agent(
            _callable_name(name),
            id=id,
            description=description,
            version=version,
            model=model,
            conversation_id=conversation_id,
            user_id=user_id,
            workflow=workflow,
            attributes=attributes,
        )(name)
    name = str(name)
    operation = Operation.INVOKE_WORKFLOW if workflow else Operation.INVOKE_AGENT
    attrs: dict[str, Any] = {A.GEN_AI_OPERATION_NAME: operation}
    if workflow:
        attrs[A.GEN_AI_WORKFLOW_NAME] = name
    else:
        attrs[A.GEN_AI_AGENT_NAME] = name
    attrs.update(
        {
            A.GEN_AI_AGENT_ID: id,
            A.GEN_AI_AGENT_DESCRIPTION: description,
            A.GEN_AI_AGENT_VERSION: version,
            A.GEN_AI_REQUEST_MODEL: model,
            A.GEN_AI_CONVERSATION_ID: conversation_id,
            A.USER_ID: user_id,
        }
    )
    if attributes:
        attrs.update(attributes)
    return Scope(f"{operation} {name}", SpanKind.INTERNAL, attrs, AgentHandle)


def llm(
    model: str | None,
    provider: str | None = None,
    *,
    operation: str = Operation.CHAT,
    attributes: Mapping[str, Any] | None = None,
) -> Scope[LLMHandle]:
    """An LLM call: span ``{operation} {model}``, CLIENT.

    Report tokens with ``handle.set_usage(...)`` or :func:`set_usage`; the cost is computed
    from the price catalog when the span ends (unknown models stay unpriced).
    """
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: operation,
        A.GEN_AI_PROVIDER_NAME: provider,
        A.GEN_AI_REQUEST_MODEL: model,
    }
    if attributes:
        attrs.update(attributes)
    name = f"{operation} {model}" if model else str(operation)

    def factory(span: trace.Span) -> LLMHandle:
        return LLMHandle(span, model=model, provider=provider)

    return Scope(name, SpanKind.CLIENT, attrs, factory, is_llm=True)


@overload
def tool(
    name: str,
    *,
    call_id: str | None = ...,
    type: str | None = ...,
    description: str | None = ...,
    attributes: Mapping[str, Any] | None = ...,
) -> Scope[ToolHandle]: ...


@overload
def tool(name: F) -> F: ...


def tool(
    name: Any,
    *,
    call_id: str | None = None,
    type: str | None = "function",
    description: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Any:
    """A tool execution: span ``execute_tool {name}``, INTERNAL.

    Usable as context manager, decorator, or bare ``@tool`` (named after the function).
    """
    if callable(name) and not isinstance(name, str):
        return tool(
            _callable_name(name),
            call_id=call_id,
            type=type,
            description=description,
            attributes=attributes,
        )(name)
    name = str(name)
    attrs: dict[str, Any] = {
        A.GEN_AI_OPERATION_NAME: Operation.EXECUTE_TOOL,
        A.GEN_AI_TOOL_NAME: name,
        A.GEN_AI_TOOL_CALL_ID: call_id,
        A.GEN_AI_TOOL_TYPE: type,
        A.GEN_AI_TOOL_DESCRIPTION: description,
    }
    if attributes:
        attrs.update(attributes)
    return Scope(
        f"{Operation.EXECUTE_TOOL} {name}",
        SpanKind.INTERNAL,
        attrs,
        ToolHandle,
        output_key=A.GEN_AI_TOOL_CALL_RESULT,
    )


def record_event(kind: str, **data: Any) -> None:
    """Add span event ``agentel.<kind>`` to the current span (non-primitives JSON-encoded).

    Documented kinds: ``plan`` (``agentel.plan``: the agent's plan, e.g. ``steps=[...]``),
    ``state_update`` (``agentel.state_update``: what changed in the agent's state) and
    ``custom`` (``agentel.custom``); any other kind is recorded as ``agentel.<kind>``.
    """
    add_event(trace.get_current_span(), kind, data)


class Iteration:
    """One pass of an agent's loop, as yielded by :func:`iteration`."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<agentel iteration {self.index}>"


# Passes counted per enclosing span (usually the agent's), so iteration() numbers itself.
_ITERATION_COUNTS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


@contextmanager
def iteration(index: int | None = None) -> Iterator[Iteration]:
    """Mark one pass of the agent's loop: ``with iteration(): ...``.

    Spans started inside (ours and other instrumentations', through the run-id processor)
    carry ``agentel.iteration`` = the pass's index, 0-based and counted per enclosing span
    unless ``index`` is given. The enclosing (agent) span gets ``agentel.run.iterations``,
    the number of passes so far, and the store records it as the run's iterations.
    """
    enclosing = trace.get_current_span()
    count = 0
    if enclosing.get_span_context().is_valid:
        try:
            count = _ITERATION_COUNTS.get(enclosing, 0)
            _ITERATION_COUNTS[enclosing] = count + 1
        except TypeError:  # a span type that takes no weak references: count from 0
            log_once("iteration.count", "cannot count passes for this span", exc_info=False)
    current = Iteration(count if index is None else int(index))
    set_attribute(enclosing, A.AGENTEL_RUN_ITERATIONS, max(count, current.index) + 1)
    token = context.attach(context.set_value(A.CONTEXT_ITERATION_KEY, current.index))
    try:
        yield current
    finally:
        context.detach(token)


def current_llm() -> LLMHandle | None:
    """The handle of the innermost ``llm()`` scope, if the innermost agentel scope is one."""
    handle = context.get_value(_ACTIVE_LLM_KEY)
    return handle if isinstance(handle, LLMHandle) and not handle.ended else None


def set_model(model: str) -> bool:
    """Report the model that served the current ``llm()`` call (for pricing and the span name).

    Returns ``False`` (and logs once) when there is no open ``llm()`` scope.
    """
    handle = current_llm()
    if handle is None:
        log_once("set_model", "set_model() called outside an llm() scope; ignored", exc_info=False)
        return False
    handle.set_model(model)
    return True


def set_usage(
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    model: str | None = None,
) -> bool:
    """Report token usage on the current ``llm()`` span (its cost is computed at its end).

    Returns ``False`` (and logs once) when there is no open ``llm()`` scope.
    """
    handle = current_llm()
    if handle is None:
        log_once("set_usage", "set_usage() called outside an llm() scope; ignored", exc_info=False)
        return False
    handle.set_usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        model=model,
    )
    return True
