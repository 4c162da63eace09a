"""normalize(): every convention family, from hand-built attribute sets (what each family's
instrumentations put on a span), down to the stored record."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentel.semconv.normalize import FOREIGN_KEYS, _fields, normalize, operation_for
from agentel.store import open_store
from agentel.store.records import build_span_record

CLAUDE = "claude-sonnet-4-5-20250929"


def norm(attrs, name="span", kind="internal"):
    return normalize(name, kind, attrs)


def tokens(n):
    return tuple(
        n[k]
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        )
    )


# --- official OpenTelemetry GenAI ---------------------------------------------------------------


def test_official_attributes():
    n = norm(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": CLAUDE,
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.reasoning.output_tokens": 200,
            "gen_ai.conversation.id": "conv-1",
            "user.id": "u-1",
            "gen_ai.response.time_to_first_chunk": 0.25,
            "agentel.usage.output_tokens_per_second": 50.0,
            "agentel.iteration": 2,
            "error.type": "timeout",
        }
    )
    assert (n["operation"], n["category"], n["model"], n["provider"]) == (
        "chat",
        "llm",
        CLAUDE,
        "anthropic",
    )
    assert tokens(n) == (1000, 300, 600, 100, 200)
    assert (n["conversation_id"], n["user_id"], n["iteration"]) == ("conv-1", "u-1", 2)
    assert (n["ttft_ms"], n["output_tps"], n["error_type"]) == (250.0, 50.0, "timeout")
    assert n["cost_usd"] is None  # priced later, from the catalog


def test_deprecated_official_attributes():
    n = norm(
        {
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.prompt_tokens": 100,
            "gen_ai.usage.completion_tokens": 20,
            "session.id": "s-1",
        }
    )
    assert (n["provider"], n["model"]) == ("openai", "gpt-4o")
    assert tokens(n)[:2] == (100, 20)
    assert n["conversation_id"] == "s-1"
    assert n["operation"] is None and n["category"] == "other"


@pytest.mark.parametrize(
    ("operation", "category"),
    [
        ("create_agent", "agent"),
        ("invoke_agent", "agent"),
        ("invoke_workflow", "workflow"),
        ("execute_tool", "tool"),
        ("embeddings", "embedding"),
        ("retrieval", "retrieval"),
        ("generate_content", "llm"),
        ("text_completion", "llm"),
        ("something_new", "other"),
    ],
)
def test_official_operations(operation, category):
    assert norm({"gen_ai.operation.name": operation})["category"] == category


def test_agent_and_workflow_names():
    assert (
        norm({"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"})["agent_name"]
        == "a"
    )
    wf = norm({"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "w"})
    assert wf["agent_name"] == "w"
    # a run span without a name attribute is named by its span name
    assert norm({"gen_ai.operation.name": "invoke_agent"}, name="Agent run")["agent_name"] == (
        "Agent run"
    )


# --- OpenInference ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "operation", "category"),
    [
        ("LLM", "chat", "llm"),
        ("EMBEDDING", "embeddings", "embedding"),
        ("TOOL", "execute_tool", "tool"),
        ("AGENT", "invoke_agent", "agent"),
        ("CHAIN", "invoke_workflow", "workflow"),
        ("RETRIEVER", "retrieval", "retrieval"),
        ("RERANKER", "retrieval", "retrieval"),
        ("GUARDRAIL", None, "other"),
        ("EVALUATOR", None, "other"),
        ("llm", "chat", "llm"),
    ],
)
def test_openinference_span_kinds(kind, operation, category):
    n = norm({"openinference.span.kind": kind})
    assert (n["operation"], n["category"]) == (operation, category)


def test_openinference_llm_span():
    n = norm(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": CLAUDE,
            "llm.provider": "anthropic",
            "llm.system": "anthropic",
            "llm.token_count.prompt": 1000,  # includes the cache details
            "llm.token_count.completion": 300,
            "llm.token_count.total": 1300,
            "llm.token_count.prompt_details.cache_read": 600,
            "llm.token_count.prompt_details.cache_write": 100,
            "llm.token_count.prompt_details.audio": 0,
            "llm.token_count.completion_details.reasoning": 200,
            "session.id": "s-1",
            "user.id": "u-1",
        }
    )
    assert (n["operation"], n["model"], n["provider"]) == ("chat", CLAUDE, "anthropic")
    assert tokens(n) == (1000, 300, 600, 100, 200)
    assert (n["conversation_id"], n["user_id"]) == ("s-1", "u-1")


def test_openinference_tool_and_agent_names():
    t = norm({"openinference.span.kind": "TOOL", "tool.name": "search", "tool_call.id": "c-1"})
    assert (t["tool_name"], t["tool_call_id"]) == ("search", "c-1")
    a = norm({"openinference.span.kind": "AGENT", "agent.name": "travel"}, name="Agent")
    assert (a["operation"], a["agent_name"]) == ("invoke_agent", "travel")


def test_openinference_costs():
    n = norm(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o",
            "llm.cost.prompt": 0.003,
            "llm.cost.completion": 0.004,
            "llm.cost.total": 0.007,
            "llm.cost.prompt_details.cache_read": 0.0005,
            "llm.cost.completion_details.reasoning": 0.001,
        }
    )
    assert (n["cost_usd"], n["cost_source"]) == (0.007, "provider")
    # input = prompt - cache read = 0.0025; output = completion - reasoning = 0.003
    assert n["cost_breakdown"] == pytest.approx(
        {"input": 0.0025, "output": 0.003, "cache_read": 0.0005, "reasoning": 0.001}
    )
    # no total: prompt + completion
    assert norm({"llm.cost.prompt": 0.001, "llm.cost.completion": 0.002})["cost_usd"] == (
        pytest.approx(0.003)
    )


@pytest.mark.parametrize(
    ("alias", "official"),
    [
        ("mistralai", "mistral_ai"),
        ("xai", "x_ai"),
        ("vertexai", "gcp.vertex_ai"),
        ("Anthropic", "anthropic"),
    ],
)
def test_provider_aliases(alias, official):
    assert norm({"llm.provider": alias})["provider"] == official


# --- OpenLLMetry (Traceloop) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "operation", "category"),
    [
        ("workflow", "invoke_workflow", "workflow"),
        ("agent", "invoke_agent", "agent"),
        ("tool", "execute_tool", "tool"),
        ("task", None, "other"),
    ],
)
def test_traceloop_span_kinds(kind, operation, category):
    n = norm({"traceloop.span.kind": kind, "traceloop.entity.name": "entity"})
    assert (n["operation"], n["category"]) == (operation, category)
    if category in ("agent", "workflow"):
        assert n["agent_name"] == "entity"
    if category == "tool":
        assert n["tool_name"] == "entity"


@pytest.mark.parametrize(
    ("request_type", "operation"),
    [("chat", "chat"), ("completion", "text_completion"), ("embedding", "embeddings")],
)
def test_traceloop_request_types(request_type, operation):
    assert norm({"llm.request.type": request_type})["operation"] == operation


def test_traceloop_token_keys():
    n = norm(
        {
            "gen_ai.system": "Anthropic",
            "llm.request.type": "chat",
            "gen_ai.request.model": CLAUDE,
            "gen_ai.usage.input_tokens": 1000,  # OpenLLMetry adds the cache tokens to the prompt
            "gen_ai.usage.output_tokens": 300,
            "gen_ai.usage.cache_read_input_tokens": 600,
            "gen_ai.usage.cache_creation_input_tokens": 100,
            "gen_ai.usage.reasoning_tokens": 200,
            "llm.usage.total_tokens": 1300,
        }
    )
    assert tokens(n) == (1000, 300, 600, 100, 200)
    assert n["provider"] == "anthropic"


def test_traceloop_legacy_llm_usage_keys():
    n = norm(
        {
            "llm.request.type": "chat",
            "llm.request.model": "gpt-4o",
            "llm.usage.prompt_tokens": 50,
            "llm.usage.total_tokens": 80,  # the completion count is derived: 80 - 50
            "llm.usage.reasoning_tokens": 10,
        }
    )
    assert (n["model"], tokens(n)) == ("gpt-4o", (50, 30, None, None, 10))


# --- OpenLIT ------------------------------------------------------------------------------------


def test_openlit_cost_and_operation_aliases():
    n = norm(
        {
            "gen_ai.system": "openai",
            "gen_ai.operation.name": "embedding",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.cost": 0.00002,
        }
    )
    assert (n["operation"], n["category"]) == ("embeddings", "embedding")
    assert (n["cost_usd"], n["cost_source"], n["cost_breakdown"]) == (0.00002, "provider", None)
    assert norm({"gen_ai.operation.name": "agent"})["operation"] == "invoke_agent"


def test_our_own_cost_attributes_keep_their_source():
    n = norm(
        {
            "gen_ai.usage.cost": 0.01,
            "agentel.cost.input": 0.004,
            "agentel.cost.output": 0.006,
            "agentel.cost.source": "override",
        }
    )
    assert (n["cost_usd"], n["cost_source"]) == (0.01, "override")
    assert n["cost_breakdown"] == {"input": 0.004, "output": 0.006}


# --- Langfuse -----------------------------------------------------------------------------------


def test_langfuse_additive_usage_becomes_inclusive():
    n = norm(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": CLAUDE,
            # Langfuse usage details add up: input excludes cache, output excludes reasoning
            "langfuse.observation.usage_details": json.dumps(
                {
                    "input": 300,
                    "cache_read_input_tokens": 600,
                    "cache_creation_input_tokens": 100,
                    "output": 100,
                    "output_reasoning_tokens": 200,
                    "total": 1300,
                }
            ),
            "langfuse.observation.cost_details": json.dumps(
                {
                    "input": 0.0009,
                    "cache_read_input_tokens": 0.00018,
                    "output": 0.0015,
                    "total": 0.00258,
                }
            ),
            "langfuse.session.id": "s-1",
            "langfuse.user.id": "u-1",
        }
    )
    assert (n["operation"], n["model"]) == ("chat", CLAUDE)
    assert tokens(n) == (1000, 300, 600, 100, 200)
    assert (n["cost_usd"], n["cost_source"]) == (0.00258, "provider")
    assert n["cost_breakdown"] == {"input": 0.0009, "cache_read": 0.00018, "output": 0.0015}
    assert (n["conversation_id"], n["user_id"]) == ("s-1", "u-1")


def test_langfuse_openai_style_details():
    n = norm(
        {
            "langfuse.observation.type": "generation",
            "langfuse.observation.usage_details": {
                "input": 600,
                "input_cached_tokens": 400,
                "input_audio_tokens": 0,
                "output": 150,
                "output_reasoning_tokens": 50,
            },
            "langfuse.observation.cost_details": '{"input": 0.001, "output": 0.002}',
        }
    )
    assert tokens(n) == (1000, 200, 400, None, 50)
    assert n["cost_usd"] == pytest.approx(0.003)


@pytest.mark.parametrize(
    ("kind", "operation"),
    [
        ("agent", "invoke_agent"),
        ("tool", "execute_tool"),
        ("chain", "invoke_workflow"),
        ("embedding", "embeddings"),
        ("retriever", "retrieval"),
        ("span", None),
    ],
)
def test_langfuse_observation_types(kind, operation):
    assert operation_for({"langfuse.observation.type": kind}) == operation


# --- robustness ---------------------------------------------------------------------------------


def test_an_input_count_below_its_cache_parts_was_exclusive():
    # e.g. a naive Anthropic instrumentation copying usage.input_tokens (uncached only)
    n = norm(
        {
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.cache_read.input_tokens": 600,
            "gen_ai.usage.cache_creation.input_tokens": 100,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.usage.reasoning.output_tokens": 200,
        }
    )
    assert tokens(n) == (1000, 300, 600, 100, 200)


def test_official_keys_win_over_foreign_ones():
    n = norm(
        {
            "gen_ai.operation.name": "chat",
            "openinference.span.kind": "AGENT",
            "gen_ai.usage.input_tokens": 10,
            "llm.token_count.prompt": 99,
            "gen_ai.usage.cost": 0.5,
            "llm.cost.total": 9.0,
        }
    )
    assert (n["operation"], n["input_tokens"], n["cost_usd"]) == ("chat", 10, 0.5)


def test_a_bad_value_falls_through_to_the_next_key():
    n = norm({"gen_ai.usage.input_tokens": "n/a", "llm.token_count.prompt": 12})
    assert n["input_tokens"] == 12


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
KEYS = [
    "gen_ai.operation.name", "openinference.span.kind", "traceloop.span.kind",
    "langfuse.observation.type", "gen_ai.usage.input_tokens", "llm.token_count.prompt",
    "gen_ai.usage.cache_read_input_tokens", "gen_ai.usage.output_tokens", "llm.usage.total_tokens",
    "gen_ai.usage.cost", "llm.cost.total", "llm.cost.prompt", "langfuse.observation.usage_details",
    "langfuse.observation.cost_details", "gen_ai.response.time_to_first_chunk", "llm.provider",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=8))
def test_property_never_raises_and_counts_are_sane(attrs):
    n = norm(attrs)
    for value in tokens(n):
        assert value is None or (isinstance(value, int) and value >= 0)
    for key in ("cost_usd", "ttft_ms"):
        assert n[key] is None or math.isfinite(n[key])


# The registry keys normalize() reads, with values that exercise every rule.
NATIVE_KEYS = [
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.agent.name", "gen_ai.workflow.name", "gen_ai.tool.name",
    "gen_ai.tool.call.id", "gen_ai.conversation.id", "session.id", "user.id",
    "agentel.iteration", "error.type", "agentel.run.id", "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.cost", "agentel.cost.input",
    "agentel.cost.output", "agentel.cost.cache_read", "agentel.cost.cache_write",
    "agentel.cost.reasoning", "agentel.cost.source", "gen_ai.response.time_to_first_chunk",
    "agentel.usage.output_tokens_per_second",
]  # fmt: skip
named_values = st.one_of(
    values,
    st.sampled_from(
        ["chat", " Invoke_Agent ", "invoke_workflow", "execute_tool", "embedding", "agent", "", " "]
    ),
    st.sampled_from(["openai", "MistralAI", "gemini", "bedrock", "catalog"]),
    st.integers(0, 2000),
    st.tuples(st.text(max_size=3)),
)


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(st.sampled_from(NATIVE_KEYS), named_values, max_size=12),
    st.dictionaries(st.sampled_from(sorted(FOREIGN_KEYS)), named_values, max_size=2),
    st.sampled_from(["span", "", "invoke_agent planner", "invoke_workflow", "chat gpt-4o"]),
)
def test_fast_path_gives_the_full_lookup_result(native, foreign, name):
    """Spans without other conventions' keys skip their lookups with an identical result."""
    for attrs in (native, {**native, **foreign}):
        assert normalize(name, "internal", attrs) == _fields(name, attrs)


def test_registry_keys_are_not_foreign():
    assert FOREIGN_KEYS.isdisjoint(NATIVE_KEYS)
    assert {"llm.token_count.prompt", "llm.cost.total", "traceloop.span.kind"} <= FOREIGN_KEYS


# --- the same call, whichever family recorded it, down to the store ----------------------------

SAME_CALL = {
    # Anthropic call: 300 uncached + 600 cache-read + 100 cache-write input, 300 output
    "official": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": CLAUDE,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.cache_creation.input_tokens": 100,
    },
    "anthropic-sdk": {  # anthropic 2.x's own span, anthropic.messages.create
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.response.model": CLAUDE,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 600,
        "gen_ai.usage.cache_write.input_tokens": 100,
    },
    "pydantic-ai": {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": CLAUDE,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.details.cache_read_tokens": 600,
        "gen_ai.usage.details.cache_write_tokens": 100,
    },
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.provider": "anthropic",
        "llm.model_name": CLAUDE,
        "llm.token_count.prompt": 1000,
        "llm.token_count.completion": 300,
        "llm.token_count.prompt_details.cache_read": 600,
        "llm.token_count.prompt_details.cache_write": 100,
    },
    "openllmetry": {
        "gen_ai.system": "Anthropic",
        "llm.request.type": "chat",
        "gen_ai.request.model": CLAUDE,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read_input_tokens": 600,
        "gen_ai.usage.cache_creation_input_tokens": 100,
    },
    "langfuse": {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": CLAUDE,
        "langfuse.observation.usage_details": json.dumps(
            {
                "input": 300,
                "output": 300,
                "cache_read_input_tokens": 600,
                "cache_creation_input_tokens": 100,
            }
        ),
    },
}


@pytest.mark.parametrize("family", sorted(SAME_CALL))
def test_same_call_same_tokens_and_cost_in_the_store(family, tmp_path):
    record = build_span_record(
        trace_id="ab" * 16,
        span_id="cd" * 8,
        parent_span_id=None,
        name="llm call",
        kind="client",
        start_ns=1_000_000_000,
        end_ns=2_000_000_000,
        status="ok",
        status_message=None,
        attributes=SAME_CALL[family],
    )
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.ingest([record])
        (span,) = store.spans()
        (run,) = store.runs()
    assert (span["category"], span["model"]) == ("llm", CLAUDE)
    assert (run["input_tokens"], run["output_tokens"]) == (1000, 300)
    assert (run["cache_read_tokens"], run["cache_write_tokens"]) == (600, 100)
    # claude-sonnet-4-5: input 3.00, cache read 0.30, cache write 3.75, output 15.00 per 1M
    # 300 * 3.00 + 600 * 0.30 + 100 * 3.75 + 300 * 15.00 = 900 + 180 + 375 + 4500 = 5955
    assert run["cost_usd"] == pytest.approx(0.005955, abs=1e-12)
    assert span["cost_source"] == "catalog"
