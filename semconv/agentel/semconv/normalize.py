"""Map a span's name, kind and attributes onto the canonical fields of a span record.

Every store backend and every ingest path (our exporters, the OTLP receiver, imports) calls
:func:`normalize`, so a span means the same thing whichever instrumentation produced it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agentel.semconv import attributes as A
from agentel.semconv.attributes import Category, Operation

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


def category_for(operation: str | None) -> str:
    """The record category of an operation name (``other`` when unknown)."""
    return _CATEGORY_BY_OPERATION.get(operation or "", Category.OTHER)


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


def normalize(name: str, kind: str | None, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical record fields for one span.

    Returns a dict with: operation, category, model, provider, agent_name, tool_name,
    tool_call_id, conversation_id, user_id, iteration, error_type, run_id (as stamped by our
    span processor, or None), the five token counts, cost_usd, cost_breakdown, cost_source,
    ttft_ms and output_tps. Values that cannot be read are None, never an exception.
    """
    operation = _str(attrs.get(A.GEN_AI_OPERATION_NAME))
    category = category_for(operation)
    model = _str(_first(attrs, A.GEN_AI_RESPONSE_MODEL, A.GEN_AI_REQUEST_MODEL))
    provider = _str(_first(attrs, A.GEN_AI_PROVIDER_NAME, A.GEN_AI_SYSTEM))
    input_tokens = _int(_first(attrs, A.GEN_AI_USAGE_INPUT_TOKENS, A.GEN_AI_USAGE_PROMPT_TOKENS))
    output_tokens = _int(
        _first(attrs, A.GEN_AI_USAGE_OUTPUT_TOKENS, A.GEN_AI_USAGE_COMPLETION_TOKENS)
    )
    breakdown = {
        part: v for part, key in _COST_PARTS.items() if (v := _float(attrs.get(key))) is not None
    }
    cost = _float(attrs.get(A.GEN_AI_USAGE_COST))
    cost_source = _str(attrs.get(A.AGENTEL_COST_SOURCE))
    if cost is not None and cost_source is None:
        cost_source = "provider"
    ttft = _float(attrs.get(A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
    agent_name = _str(_first(attrs, A.GEN_AI_AGENT_NAME, A.GEN_AI_WORKFLOW_NAME))
    return {
        "operation": operation,
        "category": category,
        "model": model,
        "provider": provider,
        "agent_name": agent_name,
        "tool_name": _str(attrs.get(A.GEN_AI_TOOL_NAME)),
        "tool_call_id": _str(attrs.get(A.GEN_AI_TOOL_CALL_ID)),
        "conversation_id": _str(_first(attrs, A.GEN_AI_CONVERSATION_ID, A.SESSION_ID)),
        "user_id": _str(attrs.get(A.USER_ID)),
        "iteration": _int(attrs.get(A.AGENTEL_ITERATION)),
        "error_type": _str(attrs.get(A.ERROR_TYPE)),
        "run_id": _str(attrs.get(A.AGENTEL_RUN_ID)),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": _int(attrs.get(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
        "cache_write_tokens": _int(attrs.get(A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
        "reasoning_tokens": _int(attrs.get(A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
        "cost_usd": cost,
        "cost_breakdown": breakdown or None,
        "cost_source": cost_source,
        "ttft_ms": ttft * 1000.0 if ttft is not None else None,
        "output_tps": _float(attrs.get(A.AGENTEL_OUTPUT_TOKENS_PER_SECOND)),
    }
