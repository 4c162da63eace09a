"""Map a span's name, kind and attributes onto the canonical fields of a span record.

Every store backend and every ingest path (our exporters, the OTLP receiver, imports) calls
:func:`normalize`, so a span means the same thing whichever instrumentation produced it.

Conventions understood (first match wins, official OpenTelemetry GenAI first):

* **OpenTelemetry GenAI**, including the deprecated ``gen_ai.system``,
  ``gen_ai.usage.prompt_tokens`` and ``gen_ai.usage.completion_tokens``, and the
  ``gen_ai.usage.cache_write.input_tokens`` spelling of cache writes that SDKs' own spans use
  (``anthropic`` 2.x);
* **Pydantic AI**: ``gen_ai.usage.details.cache_read_tokens`` / ``cache_write_tokens`` /
  ``reasoning_tokens``;
* **OpenInference** (Arize Phoenix): ``openinference.span.kind``, ``llm.model_name``,
  ``llm.provider`` / ``llm.system``, ``llm.token_count.*`` with the prompt and completion
  details, ``llm.cost.*``, ``session.id``, ``user.id``, ``tool.name``, ``agent.name``;
* **OpenLLMetry** (Traceloop): ``traceloop.span.kind``, ``traceloop.entity.name``,
  ``llm.request.type``, ``llm.usage.*``, ``gen_ai.usage.cache_read_input_tokens`` /
  ``cache_creation_input_tokens`` and the ``reasoning_tokens`` variants;
* **OpenLIT**: ``gen_ai.usage.cost``;
* **Langfuse**: ``langfuse.observation.type`` / ``model.name`` / ``usage_details`` /
  ``cost_details``, ``langfuse.session.id``, ``langfuse.user.id``.

Token counts in a record follow OpenTelemetry: input tokens INCLUDE cache-read and cache-write
tokens, output tokens INCLUDE reasoning tokens. OpenTelemetry, OpenInference and OpenLLMetry
count that way (their Anthropic instrumentations add the cache tokens to the prompt count);
Langfuse's ``usage_details`` are additive (``input`` excludes cached input, ``output`` excludes
reasoning) and are converted. Whatever the family, an input count smaller than its own cache
parts can only have been counted without them, and is converted the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Category, Operation

__all__ = [
    "REQUEST_MODEL_KEYS",
    "RUN_OPERATIONS",
    "USAGE_CATEGORIES",
    "category_for",
    "normalize",
    "operation_for",
    "request_model",
]

_CATEGORY_BY_OPERATION = {
    Operation.CHAT: Category.LLM,
    Operation.TEXT_COMPLETION: Category.LLM,
    Operation.GENERATE_CONTENT: Category.LLM,
    Operation.EMBEDDINGS: Category.EMBEDDING,
    Operation.EXECUTE_TOOL: Category.TOOL,
    Operation.INVOKE_AGENT: Category.AGENT,
    Operation.CREATE_AGENT: Category.AGENT,
    Operation.INVOKE_WORKFLOW: Category.WORKFLOW,
    Operation.RETRIEVAL: Category.RETRIEVAL,
}

RUN_OPERATIONS = frozenset({Operation.INVOKE_AGENT, Operation.INVOKE_WORKFLOW})
"""Operations whose top-most span in a trace is a run."""

USAGE_CATEGORIES = frozenset({Category.LLM, Category.EMBEDDING})
"""Categories whose token usage and cost roll up into runs."""

_COST_PARTS = {
    "input": A.AGENTEL_COST_INPUT,
    "output": A.AGENTEL_COST_OUTPUT,
    "cache_read": A.AGENTEL_COST_CACHE_READ,
    "cache_write": A.AGENTEL_COST_CACHE_WRITE,
    "reasoning": A.AGENTEL_COST_REASONING,
}

# --- foreign conventions: keys (not ours, so not in registry.json) ------------------------------

OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
TRACELOOP_SPAN_KIND = "traceloop.span.kind"
TRACELOOP_ENTITY_NAME = "traceloop.entity.name"
LLM_REQUEST_TYPE = "llm.request.type"
LANGFUSE_OBSERVATION_TYPE = "langfuse.observation.type"
LANGFUSE_MODEL = "langfuse.observation.model.name"
LANGFUSE_USAGE_DETAILS = "langfuse.observation.usage_details"
LANGFUSE_COST_DETAILS = "langfuse.observation.cost_details"

# Operation values other conventions use for ``gen_ai.operation.name`` (OpenLIT, older drafts).
_OPERATION_ALIASES = {
    "completion": Operation.TEXT_COMPLETION,
    "embedding": Operation.EMBEDDINGS,
    "agent": Operation.INVOKE_AGENT,
    "workflow": Operation.INVOKE_WORKFLOW,
    "tool": Operation.EXECUTE_TOOL,
    "retrieve": Operation.RETRIEVAL,
}

# OpenInference span kinds (upper case on the wire; compared case-insensitively).
_OPENINFERENCE_KINDS = {
    "llm": Operation.CHAT,
    "embedding": Operation.EMBEDDINGS,
    "tool": Operation.EXECUTE_TOOL,
    "agent": Operation.INVOKE_AGENT,
    "chain": Operation.INVOKE_WORKFLOW,
    "retriever": Operation.RETRIEVAL,
    "reranker": Operation.RETRIEVAL,
}
# OpenLLMetry span kinds (``task`` is an internal step: no operation).
_TRACELOOP_KINDS = {
    "workflow": Operation.INVOKE_WORKFLOW,
    "agent": Operation.INVOKE_AGENT,
    "tool": Operation.EXECUTE_TOOL,
}
# OpenLLMetry's ``llm.request.type`` on LLM spans.
_TRACELOOP_REQUEST_TYPES = {
    "chat": Operation.CHAT,
    "completion": Operation.TEXT_COMPLETION,
    "embedding": Operation.EMBEDDINGS,
    "rerank": Operation.RETRIEVAL,
}
_LANGFUSE_TYPES = {
    "generation": Operation.CHAT,
    "embedding": Operation.EMBEDDINGS,
    "agent": Operation.INVOKE_AGENT,
    "tool": Operation.EXECUTE_TOOL,
    "chain": Operation.INVOKE_WORKFLOW,
    "retriever": Operation.RETRIEVAL,
}
# Provider names other conventions use, mapped onto ``gen_ai.provider.name`` values.
_PROVIDER_ALIASES = {
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "vertexai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "az.ai.openai": "azure.ai.openai",
    "az.ai.inference": "azure.ai.inference",
}

_MODEL_KEYS = (
    A.GEN_AI_RESPONSE_MODEL,
    "llm.response.model",
    A.GEN_AI_REQUEST_MODEL,
    "llm.model_name",
    "llm.request.model",
    LANGFUSE_MODEL,
)
REQUEST_MODEL_KEYS = (
    A.GEN_AI_REQUEST_MODEL,
    "llm.request.model",
    "llm.model_name",
    LANGFUSE_MODEL,
)
"""Where a span names the model its call asked for, in order of preference."""
_PROVIDER_KEYS = (A.GEN_AI_PROVIDER_NAME, A.GEN_AI_SYSTEM, "llm.provider", "llm.system")
_INPUT_KEYS = (
    A.GEN_AI_USAGE_INPUT_TOKENS,
    A.GEN_AI_USAGE_PROMPT_TOKENS,
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
_OUTPUT_KEYS = (
    A.GEN_AI_USAGE_OUTPUT_TOKENS,
    A.GEN_AI_USAGE_COMPLETION_TOKENS,
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
_TOTAL_KEYS = ("gen_ai.usage.total_tokens", "llm.token_count.total", "llm.usage.total_tokens")
_CACHE_READ_KEYS = (
    A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
    "llm.usage.cache_read_input_tokens",
    "gen_ai.usage.details.cache_read_tokens",
)
_CACHE_WRITE_KEYS = (
    A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
    "llm.usage.cache_creation_input_tokens",
    "gen_ai.usage.details.cache_write_tokens",
)
_REASONING_KEYS = (
    A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
    "gen_ai.usage.details.reasoning_tokens",
)
_AGENT_NAME_KEYS = (A.GEN_AI_AGENT_NAME, A.GEN_AI_WORKFLOW_NAME, "agent.name")
_TOOL_NAME_KEYS = (A.GEN_AI_TOOL_NAME, "tool.name")
_TOOL_CALL_ID_KEYS = (A.GEN_AI_TOOL_CALL_ID, "tool_call.id")
_CONVERSATION_KEYS = (A.GEN_AI_CONVERSATION_ID, A.SESSION_ID, "langfuse.session.id")
_USER_KEYS = (A.USER_ID, "langfuse.user.id")

# Langfuse usage_details keys: cache reads / writes and reasoning, in any of its spellings.
_LF_CACHE_READ = (
    "cache_read_input_tokens",
    "input_cached_tokens",
    "input_cache_read",
    "cache_read",
)
_LF_CACHE_WRITE = (
    "cache_creation_input_tokens",
    "input_cache_creation",
    "input_cache_write",
    "cache_write",
)
_LF_REASONING = ("output_reasoning_tokens", "output_reasoning", "reasoning")

# OpenInference's cost keys are ``llm.cost.<suffix>``.
_OPENINFERENCE_COST_SUFFIXES = (
    "prompt",
    "completion",
    "total",
    "prompt_details.input",
    "prompt_details.cache_read",
    "prompt_details.cache_write",
    "completion_details.output",
    "completion_details.reasoning",
)
_REGISTRY_VALUES = frozenset(v for k, v in vars(A).items() if k.isupper() and isinstance(v, str))

FOREIGN_KEYS = frozenset(
    {
        key
        for keys in (
            _MODEL_KEYS,
            _PROVIDER_KEYS,
            _INPUT_KEYS,
            _OUTPUT_KEYS,
            _TOTAL_KEYS,
            _CACHE_READ_KEYS,
            _CACHE_WRITE_KEYS,
            _REASONING_KEYS,
            _AGENT_NAME_KEYS,
            _TOOL_NAME_KEYS,
            _TOOL_CALL_ID_KEYS,
            _CONVERSATION_KEYS,
            _USER_KEYS,
        )
        for key in keys
        if key not in _REGISTRY_VALUES
    }
    | {
        OPENINFERENCE_SPAN_KIND,
        TRACELOOP_SPAN_KIND,
        TRACELOOP_ENTITY_NAME,
        LLM_REQUEST_TYPE,
        LANGFUSE_OBSERVATION_TYPE,
        LANGFUSE_USAGE_DETAILS,
        LANGFUSE_COST_DETAILS,
        *(f"llm.cost.{suffix}" for suffix in _OPENINFERENCE_COST_SUFFIXES),
    }
)
"""Keys only other conventions use. A span with none of them (every span agentel's own
instrumentation makes) takes :func:`normalize`'s fast path, with the same result."""


def category_for(operation: str | None) -> str:
    """The record category of an operation name (``other`` when unknown)."""
    return _CATEGORY_BY_OPERATION.get(operation or "", Category.OTHER)


# --- value readers (never raise) ----------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0:
        return int(value)
    if isinstance(value, str):
        try:
            return _int(float(value))
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return _float(float(value))
        except ValueError:
            return None
    return None


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _first_of(reader: Any, attrs: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first key whose value ``reader`` accepts (a bad value falls through to the next)."""
    for key in keys:
        raw = attrs.get(key)
        if raw is not None:
            value = reader(raw)
            if value is not None:
                return value
    return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _lower(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


# --- operation ----------------------------------------------------------------------------------


def operation_for(attrs: Mapping[str, Any]) -> str | None:
    """The canonical ``gen_ai.operation.name`` of a span, from whichever convention set it."""
    official = _lower(attrs.get(A.GEN_AI_OPERATION_NAME))
    if official:
        return _OPERATION_ALIASES.get(official, official)
    for key, table in (
        (OPENINFERENCE_SPAN_KIND, _OPENINFERENCE_KINDS),
        (TRACELOOP_SPAN_KIND, _TRACELOOP_KINDS),
        (LLM_REQUEST_TYPE, _TRACELOOP_REQUEST_TYPES),
        (LANGFUSE_OBSERVATION_TYPE, _LANGFUSE_TYPES),
    ):
        kind = _lower(attrs.get(key))
        if kind in table:
            return table[kind]
    return None


def _provider(attrs: Mapping[str, Any]) -> str | None:
    value = _lower(_first(attrs, *_PROVIDER_KEYS))
    return _PROVIDER_ALIASES.get(value, value) if value else None


def _names(
    name: str, operation: str | None, attrs: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """(agent name, tool name), falling back to OpenLLMetry's entity name or the span name."""
    agent = _str(_first(attrs, *_AGENT_NAME_KEYS))
    tool = _str(_first(attrs, *_TOOL_NAME_KEYS))
    entity = _str(attrs.get(TRACELOOP_ENTITY_NAME))
    if operation in RUN_OPERATIONS and agent is None:
        # "invoke_agent planner" -> "planner": the span name carries the agent's name
        agent = entity or _str(name.removeprefix(f"{operation} ") if name else None)
    if operation == Operation.EXECUTE_TOOL and tool is None:
        tool = entity
    return agent, tool


# --- tokens -------------------------------------------------------------------------------------


def _tokens(attrs: Mapping[str, Any]) -> dict[str, int | None]:
    inp = _first_of(_int, attrs, _INPUT_KEYS)
    out = _first_of(_int, attrs, _OUTPUT_KEYS)
    read = _first_of(_int, attrs, _CACHE_READ_KEYS)
    write = _first_of(_int, attrs, _CACHE_WRITE_KEYS)
    reasoning = _first_of(_int, attrs, _REASONING_KEYS)
    total = _first_of(_int, attrs, _TOTAL_KEYS)
    if inp is None and out is None and LANGFUSE_USAGE_DETAILS in attrs:
        return _langfuse_tokens(_json_object(attrs.get(LANGFUSE_USAGE_DETAILS)))
    if total is not None:  # one count missing: derive it from the total
        if inp is None and out is not None and total >= out:
            inp = total - out
        elif out is None and inp is not None and total >= inp:
            out = total - inp
    cached = (read or 0) + (write or 0)
    if inp is not None and inp < cached:  # counted without its cache parts: make it inclusive
        inp += cached
    if out is not None and reasoning is not None and out < reasoning:
        out += reasoning
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": reasoning,
    }


def _langfuse_tokens(details: Mapping[str, Any]) -> dict[str, int | None]:
    """Langfuse's additive usage details -> OpenTelemetry's inclusive counts."""
    counts = {k: v for k, raw in details.items() if (v := _int(raw)) is not None}

    def pick(keys: tuple[str, ...]) -> str | None:
        return next((k for k in keys if k in counts), None)

    read_key, write_key = pick(_LF_CACHE_READ), pick(_LF_CACHE_WRITE)
    reasoning_key = pick(_LF_REASONING)
    in_key = pick(("input", "prompt_tokens", "input_tokens"))
    out_key = pick(("output", "completion_tokens", "output_tokens"))
    inp = out = None
    if in_key is not None:  # plus every other input part: cached, cache writes, audio...
        parts = {k for k in counts if k.startswith("input_")} | {read_key, write_key}
        inp = counts[in_key] + sum(counts[k] for k in parts - {in_key, None})
    if out_key is not None:
        parts = {k for k in counts if k.startswith("output_")} | {reasoning_key}
        out = counts[out_key] + sum(counts[k] for k in parts - {out_key, None})
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": counts.get(read_key) if read_key else None,
        "cache_write_tokens": counts.get(write_key) if write_key else None,
        "reasoning_tokens": counts.get(reasoning_key) if reasoning_key else None,
    }


# --- cost ---------------------------------------------------------------------------------------


def _cost(attrs: Mapping[str, Any]) -> tuple[float | None, dict[str, float] | None, str | None]:
    """(total USD, breakdown, source) from ours / OpenLIT, OpenInference or Langfuse keys."""
    total = _float(attrs.get(A.GEN_AI_USAGE_COST))
    breakdown = {
        part: v for part, key in _COST_PARTS.items() if (v := _float(attrs.get(key))) is not None
    }
    if total is None:
        total, breakdown = _openinference_cost(attrs)
    if total is None and LANGFUSE_COST_DETAILS in attrs:
        total, breakdown = _langfuse_cost(_json_object(attrs.get(LANGFUSE_COST_DETAILS)))
    if total is None:
        return None, None, None
    source = _str(attrs.get(A.AGENTEL_COST_SOURCE)) or "provider"
    return total, breakdown or None, source


def _openinference_cost(attrs: Mapping[str, Any]) -> tuple[float | None, dict[str, float]]:
    def get(suffix: str) -> float | None:  # one of _OPENINFERENCE_COST_SUFFIXES
        return _float(attrs.get(f"llm.cost.{suffix}"))

    prompt, completion = get("prompt"), get("completion")
    read, write = get("prompt_details.cache_read"), get("prompt_details.cache_write")
    reasoning = get("completion_details.reasoning")
    total = get("total")
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0.0) + (completion or 0.0)
    if total is None:
        return None, {}
    parts: dict[str, float | None] = {
        "input": get("prompt_details.input"),
        "output": get("completion_details.output"),
        "cache_read": read,
        "cache_write": write,
        "reasoning": reasoning,
    }
    if parts["input"] is None and prompt is not None:
        parts["input"] = max(0.0, prompt - (read or 0.0) - (write or 0.0))
    if parts["output"] is None and completion is not None:
        parts["output"] = max(0.0, completion - (reasoning or 0.0))
    return total, {k: v for k, v in parts.items() if v is not None}


def _langfuse_cost(details: Mapping[str, Any]) -> tuple[float | None, dict[str, float]]:
    costs = {k: v for k, raw in details.items() if (v := _float(raw)) is not None}
    if not costs:
        return None, {}
    total = costs.pop("total", None)
    parts: dict[str, float] = {}
    for key, value in costs.items():
        if key in _LF_CACHE_READ:
            part = "cache_read"
        elif key in _LF_CACHE_WRITE:
            part = "cache_write"
        elif key in _LF_REASONING:
            part = "reasoning"
        elif key.startswith("input"):
            part = "input"
        elif key.startswith("output"):
            part = "output"
        else:
            continue
        parts[part] = parts.get(part, 0.0) + value
    if total is None:
        total = sum(costs.values())
    return total, parts


# --- the record fields --------------------------------------------------------------------------


NORMALIZED_FIELDS = (
    "operation",
    "category",
    "model",
    "provider",
    "agent_name",
    "tool_name",
    "tool_call_id",
    "conversation_id",
    "user_id",
    "iteration",
    "error_type",
    "run_id",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_breakdown",
    "cost_source",
    "ttft_ms",
    "output_tps",
)
"""The record fields :func:`normalize` derives, in the order of :func:`normalized_values`."""


def normalize(name: str, kind: str | None, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical record fields for one span.

    Returns a dict with: operation, category, model, provider, agent_name, tool_name,
    tool_call_id, conversation_id, user_id, iteration, error_type, run_id (as stamped by our
    span processor, or None), the five token counts, cost_usd, cost_breakdown, cost_source,
    ttft_ms and output_tps. Values that cannot be read are None, never an exception.
    ``kind`` (the OTel span kind) is accepted for callers' symmetry; no rule needs it yet.
    A span with none of :data:`FOREIGN_KEYS` takes a fast path reading the registry's keys only.
    """
    return dict(zip(NORMALIZED_FIELDS, normalized_values(name, kind, attrs), strict=True))


def normalized_values(name: str, kind: str | None, attrs: Mapping[str, Any]) -> tuple[Any, ...]:
    """:func:`normalize`'s values as a tuple in :data:`NORMALIZED_FIELDS` order: what the
    ingest path reads, once per span, without building and reading back a dict."""
    if FOREIGN_KEYS.isdisjoint(attrs):
        return _native_values(name, attrs)
    fields = _fields(name, attrs)
    return tuple([fields[f] for f in NORMALIZED_FIELDS])


def request_model(attrs: Mapping[str, Any], model: str | None) -> str | None:
    """The model a span's call asked for, or ``model`` (the one that answered, else the one
    asked for) when no request model is named. Statistics group calls by it: a dated
    response model (``gpt-4o-mini-2024-07-18``) stays with the model that was asked for."""
    if model is None:
        return None
    get = attrs.get
    for key in REQUEST_MODEL_KEYS:
        value = get(key)
        if value is not None and (found := _str(value)) is not None:
            return found
    return model


def _fields(name: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields, looking through every convention understood."""
    operation = operation_for(attrs)
    agent_name, tool_name = _names(name, operation, attrs)
    cost, breakdown, cost_source = _cost(attrs)
    ttft = _float(attrs.get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    return {
        "operation": operation,
        "category": category_for(operation),
        "model": _str(_first(attrs, *_MODEL_KEYS)),
        "provider": _provider(attrs),
        "agent_name": agent_name,
        "tool_name": tool_name,
        "tool_call_id": _str(_first(attrs, *_TOOL_CALL_ID_KEYS)),
        "conversation_id": _str(_first(attrs, *_CONVERSATION_KEYS)),
        "user_id": _str(_first(attrs, *_USER_KEYS)),
        "iteration": _int(attrs.get(A.AGENTEL_ITERATION)),
        "error_type": _str(attrs.get(A.ERROR_TYPE)),
        "run_id": _str(attrs.get(A.AGENTEL_RUN_ID)),
        **_tokens(attrs),
        "cost_usd": cost,
        "cost_breakdown": breakdown,
        "cost_source": cost_source,
        "ttft_ms": ttft * 1000.0 if ttft is not None else None,
        "output_tps": _float(attrs.get(A.AGENTEL_OUTPUT_TOKENS_PER_SECOND)),
    }


def _native_values(name: str, attrs: Mapping[str, Any]) -> tuple[Any, ...]:
    """:func:`_fields` for a span without any of :data:`FOREIGN_KEYS`, inlined for speed.

    The same rules with the other conventions' keys left out (they are absent), so the
    result is identical; tests/semconv checks that on generated attribute sets. Absent keys
    are the common case, so each value is checked for None before its reader is called.
    """
    get = attrs.get
    operation = _lower(get(A.GEN_AI_OPERATION_NAME))
    if operation:
        operation = _OPERATION_ALIASES.get(operation, operation)
    agent = _str(get(A.GEN_AI_AGENT_NAME)) or _str(get(A.GEN_AI_WORKFLOW_NAME))
    if agent is None and operation in RUN_OPERATIONS:
        agent = _str(name.removeprefix(f"{operation} ") if name else None)
    provider = _lower(_first(attrs, A.GEN_AI_PROVIDER_NAME, A.GEN_AI_SYSTEM))
    inp = out = read = write = reasoning = cost = breakdown = source = None
    if (raw := get(A.GEN_AI_USAGE_INPUT_TOKENS)) is not None:
        inp = _int(raw)
    if inp is None and (raw := get(A.GEN_AI_USAGE_PROMPT_TOKENS)) is not None:
        inp = _int(raw)
    if (raw := get(A.GEN_AI_USAGE_OUTPUT_TOKENS)) is not None:
        out = _int(raw)
    if out is None and (raw := get(A.GEN_AI_USAGE_COMPLETION_TOKENS)) is not None:
        out = _int(raw)
    if (raw := get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)) is not None:
        read = _int(raw)
    if (raw := get(A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)) is not None:
        write = _int(raw)
    if (raw := get(A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)) is not None:
        reasoning = _int(raw)
    if inp is not None and (read or write) and inp < (read or 0) + (write or 0):
        inp += (read or 0) + (write or 0)
    if out is not None and reasoning is not None and out < reasoning:
        out += reasoning
    if (raw := get(A.GEN_AI_USAGE_COST)) is not None and (cost := _float(raw)) is not None:
        breakdown = {
            part: v
            for part, key in _COST_PARTS.items()
            if (v := get(key)) is not None and (v := _float(v)) is not None
        } or None
        source = _str(get(A.AGENTEL_COST_SOURCE)) or "provider"
    ttft = tps = None
    if (raw := get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)) is not None:
        ttft = _float(raw)
    if (raw := get(A.AGENTEL_OUTPUT_TOKENS_PER_SECOND)) is not None:
        tps = _float(raw)
    iteration = get(A.AGENTEL_ITERATION)
    return (
        operation or None,
        _CATEGORY_BY_OPERATION.get(operation or "", Category.OTHER),
        _str(get(A.GEN_AI_RESPONSE_MODEL)) or _str(get(A.GEN_AI_REQUEST_MODEL)),
        _PROVIDER_ALIASES.get(provider, provider) if provider else None,
        agent,
        _str(get(A.GEN_AI_TOOL_NAME)),
        _str(get(A.GEN_AI_TOOL_CALL_ID)),
        _str(get(A.GEN_AI_CONVERSATION_ID)) or _str(get(A.SESSION_ID)),
        _str(get(A.USER_ID)),
        None if iteration is None else _int(iteration),
        _str(get(A.ERROR_TYPE)),
        _str(get(A.AGENTEL_RUN_ID)),
        inp,
        out,
        read,
        write,
        reasoning,
        cost,
        breakdown,
        source,
        ttft * 1000.0 if ttft is not None else None,
        tps,
    )
