"""The span and run records that every backend stores, and their stable JSON form."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from agentel.semconv.normalize import normalized_values, request_model
from agentel.semconv.pricing import default_pricebook, model_family
from agentel.store.sanitize import clean_attributes, clean_events, clean_fields

try:  # the optional speed-up (``agentel[speedups]``); the json module is the reference
    import orjson
except ImportError:  # pragma: no cover - exercised by the no-speedups test
    orjson = None  # type: ignore[assignment]

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def model_key(name: str) -> str:
    """How a model filter's value is compared: case-insensitively, surrounding blanks ignored."""
    return name.strip().lower()


def model_keys(names: Iterable[str]) -> list[str]:
    """What a model filter matches for these model names: each name (:func:`model_key`) and
    its family (``gpt-4o-mini`` for ``gpt-4o-mini-2024-07-18``; ``pricing.model_family``)."""
    return sorted({key for name in names for key in (model_key(name), model_family(name))})


TRACE_ID_LENGTH = 32
SPAN_ID_LENGTH = 16
RUN_ID_LENGTH = TRACE_ID_LENGTH + SPAN_ID_LENGTH
_HEX = frozenset("0123456789abcdef")


def run_key(trace_id: str, span_id: str) -> str:
    """The id of the run rooted at span ``span_id`` of trace ``trace_id``.

    Span ids are unique only within their trace, so a run is named by both: the 32 hex digits
    of the trace id followed by the 16 of the root span id. It starts with the trace id, so a
    short prefix of it is as unique as one of the trace id.
    """
    return trace_id + span_id


def root_span_id(run_id: str) -> str:
    """The span id of a run's root (the last 16 hex digits of its id)."""
    return run_id[TRACE_ID_LENGTH:]


def is_root_of(span: SpanRecord, run_id: str | None) -> bool:
    """Whether ``span`` is the root span of run ``run_id``."""
    return run_id is not None and run_id == span.trace_id + span.span_id


def stamped_run_id(trace_id: str, stamp: object) -> str | None:
    """The run id an ``agentel.run.id`` stamp names for a span of ``trace_id``, or None.

    A whole run id must belong to the span's own trace: a span can never claim a run of
    another trace. A bare span id (what agentel before run ids of both parts stamped) names
    that span in the same trace. Anything else is no stamp: the run is derived at ingest.
    """
    if not isinstance(stamp, str) or not _HEX.issuperset(stamp):
        return None
    if len(stamp) == SPAN_ID_LENGTH:
        return run_key(trace_id, stamp)
    if len(stamp) == RUN_ID_LENGTH and stamp.startswith(trace_id):
        return stamp
    return None


def _iso_reference(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat().replace("+00:00", "Z")


_LAST_NS = 253_402_300_799 * 10**9  # 9999-12-31T23:59:59Z: the last second datetime shows
_seconds: dict[int, str] = {}


def iso_time(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as an ISO-8601 UTC string (microsecond precision).

    The text of ``datetime.fromtimestamp(ns / 1e9, utc).isoformat()`` (with ``Z``), which it
    was, built from the same float the same way (microseconds rounded half to even), with the
    date and time of day formatted once per second: a 10,000-span answer spells ~10,000
    times that fall within a few seconds.
    """
    if ns is None:
        return None
    if not 0 <= ns < _LAST_NS:
        return _iso_reference(ns)
    seconds = ns / 1e9
    second = int(seconds)
    micros = round((seconds - second) * 1e6)  # the fraction is exact: math.modf's
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    text = _seconds.get(second)
    if text is None:
        if len(_seconds) >= 4096:
            _seconds.clear()
        text = _seconds[second] = datetime.fromtimestamp(second, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )
    return f"{text}.{micros:06d}Z" if micros else f"{text}Z"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _unencodable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _c_encoder() -> Any:
    """The json module's C encoder with ``_ENCODER``'s settings, built once, or None.

    ``JSONEncoder.encode`` builds a new C encoder on every call, which costs more than encoding
    a span's attributes; this one is reused. Circular references are not looked for (spans'
    values are JSON-shaped; a cycle ends in RecursionError instead of ValueError). Used only
    when it gives exactly ``_ENCODER``'s output on a probe, else ``_ENCODER`` is used.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encode = make(
            None, _unencodable, json.encoder.encode_basestring, None, ":", ",", False, False, False
        )
        probe = {"s": 'é"\n', "i": -3, "f": 0.1, "b": [True, None], "t": (1.5e300, "x")}
        if "".join(encode(probe, 0)) != _ENCODER.encode(probe):
            return None
    except Exception:
        return None
    return encode


_C_ENCODE = _c_encoder()


_FAST_OPTIONS = (
    (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS) if orjson else 0
)


def _fast_json(value: Any) -> str | None:
    """``value`` encoded by orjson, or None where its output could differ from the json
    module's beyond number spelling (``5.7e-5`` for ``5.7e-05``, the same float).

    orjson refuses (and so leaves to the json module) lone surrogates, integers past 64 bits,
    non-string keys and, through ``default``, dates and dataclasses. It writes NaN and
    infinities as ``null``, which the json module path turns into strings: any ``null`` in
    the output hands the value back too (a ``None`` is rare in span data; the answer stays
    right, only slower).
    """
    try:
        encoded = orjson.dumps(value, default=_unencodable, option=_FAST_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    if b"null" in encoded:
        return None
    return encoded.decode()


def dump_json(value: Any) -> str:
    """Encode attributes/events as strict JSON; NaN, inf and odd types become strings."""
    if orjson is not None and (fast := _fast_json(value)) is not None:
        return fast
    try:
        if _C_ENCODE is not None:
            return "".join(_C_ENCODE(value, 0))
        return _ENCODER.encode(value)
    except (TypeError, ValueError):
        return json.dumps(_json_safe(value), separators=(",", ":"), ensure_ascii=False)


_shared: dict[int, tuple[Any, str]] = {}


def shared_json(value: Any) -> str:
    """``dump_json`` of an object many records share (a batch's resource dict), encoded once."""
    held = _shared.get(id(value))
    if held is not None and held[0] is value:
        return held[1]
    text = dump_json(value)
    if len(_shared) >= 64:
        _shared.clear()
    _shared[id(value)] = (value, text)
    return text


@dataclass(slots=True)
class SpanRecord:
    """One stored span: identity, the normalized agent fields, and the raw OTel payload."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int | None
    status: str = "unset"
    status_message: str | None = None
    run_id: str | None = None
    run_id_stamped: bool = False
    category: str = "other"
    operation: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    error_type: str | None = None
    service_name: str | None = None
    scope: str | None = None
    agent_name: str | None = None
    model: str | None = None
    request_model: str | None = None
    provider: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    iteration: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    cost_breakdown: dict[str, float] | None = None
    cost_source: str | None = None
    ttft_ms: float | None = None
    output_tps: float | None = None
    counted: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float | None:
        if self.end_ns is None:
            return None
        return max(0, self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of a span (field names: docs/architecture.md, record model)."""
        return {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "run_id": self.run_id,
            "name": self.name,
            "kind": self.kind,
            "category": self.category,
            "operation": self.operation,
            "status": self.status,
            "status_message": self.status_message,
            "error_type": self.error_type,
            "start_time": iso_time(self.start_ns),
            "end_time": iso_time(self.end_ns),
            "duration_ms": self.duration_ms,
            "service_name": self.service_name,
            "agent_name": self.agent_name,
            "model": self.model,
            "request_model": self.request_model,
            "provider": self.provider,
            "tool_name": self.tool_name,
            "tool_call_id": self.tool_call_id,
            "conversation_id": self.conversation_id,
            "iteration": self.iteration,
            **{name: getattr(self, name) for name in TOKEN_FIELDS},
            "cost_usd": self.cost_usd,
            "cost_breakdown": self.cost_breakdown,
            "cost_source": self.cost_source,
            "ttft_ms": self.ttft_ms,
            "output_tps": self.output_tps,
            "counted": self.counted,
            "attributes": self.attributes,
            "events": self.events,
        }


SPAN_COLUMNS = tuple(f.name for f in fields(SpanRecord))
SPAN_FIELDS = tuple(SpanRecord("", "", None, "", "internal", 0, None).to_dict())
"""The keys of a span dict (``SpanRecord.to_dict``), in order."""

_FIELD_COLUMNS = {
    "start_time": ("start_ns",),
    "end_time": ("end_ns",),
    "duration_ms": ("start_ns", "end_ns"),
}
_EMPTY_JSON: dict[str, Any] = {"attributes": {}, "events": [], "cost_breakdown": None}


def span_columns(wanted: Sequence[str]) -> tuple[str, ...]:
    """The stored columns that the span-dict fields ``wanted`` are made of, each once."""
    columns: dict[str, None] = {}
    for name in wanted:
        columns.update(dict.fromkeys(_FIELD_COLUMNS.get(name, (name,))))
    return tuple(columns)


def span_dict_maker(
    wanted: Sequence[str], columns: Sequence[str]
) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function from a stored row (the values of ``columns``, JSON columns as text or as
    values) to the span dict's ``wanted`` fields, each as ``SpanRecord.to_dict`` gives it.

    For readers that need a few fields of many spans (the UI's waterfall): nothing else is
    read, and attributes and events are decoded only when asked for. The fields that are a
    column as stored are picked in C; only times, durations, JSON and flags cost a call.
    """
    at = {column: i for i, column in enumerate(columns)}
    derived: list[Callable[[Sequence[Any]], Any]] = []
    picks: list[int | None] = []  # a column's index, or None: the next derived value
    for name in wanted:
        if name in ("start_time", "end_time"):
            i = at[_FIELD_COLUMNS[name][0]]
            derived.append(lambda row, i=i: iso_time(row[i]))
        elif name == "duration_ms":
            start, end = at["start_ns"], at["end_ns"]
            derived.append(lambda row, s=start, e=end: _duration_ms(row[s], row[e]))
        elif name in _EMPTY_JSON:
            i, empty = at[name], _EMPTY_JSON[name]
            derived.append(lambda row, i=i, e=empty: _decoded(row[i], e))
        elif name == "counted":
            i = at[name]
            derived.append(lambda row, i=i: bool(row[i]))
        else:
            picks.append(at[name])
            continue
        picks.append(None)
    # the derived values go in front of the row: (*derived, *row)
    count = iter(range(len(derived)))
    where = [next(count) if i is None else len(derived) + i for i in picks]
    names = tuple(wanted)
    pick = operator.itemgetter(*where) if len(where) > 1 else lambda row: (row[where[0]],)
    if not derived:
        return lambda row: dict(zip(names, pick(row), strict=True))
    return lambda row: dict(zip(names, pick((*[get(row) for get in derived], *row)), strict=True))


def _duration_ms(start_ns: int, end_ns: int | None) -> float | None:
    return None if end_ns is None else max(0, end_ns - start_ns) / 1e6


def _decoded(stored: Any, empty: Any) -> Any:
    """A JSON column's value: text is decoded, a value a backend keeps as it is stays."""
    if stored is None:
        return empty if empty is None else type(empty)()
    return json.loads(stored) if isinstance(stored, str) else stored


def build_span_record(
    *,
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: str,
    kind: str,
    start_ns: int,
    end_ns: int | None,
    status: str,
    status_message: str | None,
    attributes: dict[str, Any],
    events: list[dict[str, Any]] | None = None,
    links: list[dict[str, Any]] | None = None,
    resource: dict[str, Any] | None = None,
    scope: str | None = None,
    attributes_clean: bool = False,
) -> SpanRecord:
    """Build a record from the raw parts of a span, normalizing and pricing it.

    Used by every ingest path (SDK exporter, OTLP receiver, import), so each produces the
    same record for the same span. A usage span with no cost attribute is priced here from
    the catalog; one whose model is unknown stays unpriced (cost None, never 0).
    ``attributes_clean``: the caller already checked ``attributes`` need no sanitizing (the
    SDK exporter does that while copying them), so they are not looked through again.
    """
    if not attributes_clean:
        attributes = clean_attributes(attributes)
    if events:
        events = clean_events(events)
    if links:
        links = clean_events(links)
    (
        operation,
        category,
        model,
        provider,
        agent_name,
        tool_name,
        tool_call_id,
        conversation_id,
        user_id,
        iteration,
        error_type,
        run_id,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        cost_usd,
        cost_breakdown,
        cost_source,
        ttft_ms,
        output_tps,
    ) = normalized_values(name, kind, attributes)
    resource = resource or {}
    run_id = stamped_run_id(trace_id, run_id)
    # A span that started a run of its own although it has a parent (a remote one, say, sent
    # with traceparent but no run baggage) may sit inside another run: its stamp is set
    # aside and ingest applies the top-most agent rule to the spans present.
    stamped = run_id is not None and not (parent_span_id and run_id == trace_id + span_id)
    # positional, in field order (half the cost of 39 keywords); a test checks every field
    record = SpanRecord(
        trace_id,
        span_id,
        parent_span_id or None,
        name,
        kind,
        start_ns,
        end_ns,
        status,
        status_message or None,
        run_id,
        stamped,
        category,
        operation,
        conversation_id,
        user_id,
        error_type,
        resource.get("service.name"),
        scope,
        agent_name,
        model,
        request_model(attributes, model),
        provider,
        tool_name,
        tool_call_id,
        iteration,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        cost_usd,
        cost_breakdown,
        cost_source,
        ttft_ms,
        output_tps,
        False,
        attributes,
        events or [],
        links or [],
        resource,
    )
    if record.error_type is None and status == "error":
        record.error_type = "error"
    if record.cost_usd is None and record.category in ("llm", "embedding"):
        if status == "error" and all(getattr(record, f) is None for f in TOKEN_FIELDS):
            # failed before generating (a 429, a 400): nothing was billed, a known $0
            record.cost_usd, record.cost_source = 0.0, "no_usage"
        elif record.model:
            price(record)
    return clean_fields(record)


def price(record: SpanRecord) -> None:
    """Price an LLM/embedding span that carries no cost from its model and token counts."""
    if record.input_tokens is None and record.output_tokens is None:
        return
    cost = default_pricebook().cost(
        record.model,
        record.provider,
        input_tokens=record.input_tokens or 0,
        output_tokens=record.output_tokens or 0,
        cache_read_tokens=record.cache_read_tokens or 0,
        cache_write_tokens=record.cache_write_tokens or 0,
        reasoning_tokens=record.reasoning_tokens or 0,
    )
    if cost is None:
        return
    record.cost_usd = cost.total
    record.cost_source = cost.source
    parts = {
        "input": cost.input,
        "output": cost.output,
        "cache_read": cost.cache_read,
        "cache_write": cost.cache_write,
        "reasoning": cost.reasoning,
    }
    # the parts that cost something, as the instrumentation's agentel.cost.* attributes give
    record.cost_breakdown = {part: value for part, value in parts.items() if value} or None


@dataclass(slots=True)
class RunRecord:
    """One agent run: the top-most agent/workflow span of a trace with its rollups.

    ``pid`` and ``host`` come from the top span's resource (``process.pid``, ``host.name``),
    which the live-run processor always sets, so an unfinished run names the process that
    was running it.
    """

    run_id: str
    trace_id: str
    name: str | None = None
    agent_name: str | None = None
    status: str = "running"
    start_ns: int | None = None
    end_ns: int | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    service_name: str | None = None
    models: list[str] = field(default_factory=list)
    llm_calls: int = 0
    tool_calls: int = 0
    errors: int = 0
    iterations: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    ttft_ms: float | None = None
    span_count: int = 0
    feedback: float | None = None
    pid: int | None = None
    host: str | None = None
    #: what model filters match (``model_keys`` of the counted calls' request and response
    #: models); stored for the filters, not part of the run's JSON shape
    model_keys: list[str] = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return max(0, self.end_ns - self.start_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of a run (field names: docs/architecture.md, record model)."""
        return {
            "run_id": self.run_id,
            "trace_id": self.trace_id,
            "name": self.name,
            "agent_name": self.agent_name,
            "status": self.status,
            "start_time": iso_time(self.start_ns),
            "end_time": iso_time(self.end_ns),
            "duration_ms": self.duration_ms,
            "conversation_id": self.conversation_id,
            "user_id": self.user_id,
            "service_name": self.service_name,
            "models": list(self.models),
            "llm_calls": self.llm_calls,
            "tool_calls": self.tool_calls,
            "errors": self.errors,
            "iterations": self.iterations,
            **{name: getattr(self, name) for name in TOKEN_FIELDS},
            "cost_usd": self.cost_usd,
            "unpriced_calls": self.unpriced_calls,
            "ttft_ms": self.ttft_ms,
            "span_count": self.span_count,
            "feedback": self.feedback,
            "pid": self.pid,
            "host": self.host,
        }


RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))
