"""Attribute keys and values that agentel emits and reads.

Official OpenTelemetry GenAI names come first; anything the official registry lacks lives
under ``agentel.`` (the one exception is ``gen_ai.usage.cost``, the de-facto cost key).
"""

from __future__ import annotations

from typing import Final

# --- official GenAI attributes -------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # deprecated, read only
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"  # deprecated, read only
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"  # deprecated, read only
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
GEN_AI_AGENT_VERSION: Final = "gen_ai.agent.version"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"

SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
USER_ID: Final = "user.id"
SESSION_ID: Final = "session.id"
SERVICE_NAME: Final = "service.name"

# --- cost: the de-facto total plus agentel's breakdown ---------------------------------------
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"
AGENTEL_COST_INPUT: Final = "agentel.cost.input"
AGENTEL_COST_OUTPUT: Final = "agentel.cost.output"
AGENTEL_COST_CACHE_READ: Final = "agentel.cost.cache_read"
AGENTEL_COST_CACHE_WRITE: Final = "agentel.cost.cache_write"
AGENTEL_COST_REASONING: Final = "agentel.cost.reasoning"
AGENTEL_COST_CURRENCY: Final = "agentel.cost.currency"
AGENTEL_COST_SOURCE: Final = "agentel.cost.source"
AGENTEL_COST_PRICE_VERSION: Final = "agentel.cost.price_version"

# --- agentel extensions ------------------------------------------------------------------------
AGENTEL_RUN_ID: Final = "agentel.run.id"
AGENTEL_RUN_ITERATIONS: Final = "agentel.run.iterations"
AGENTEL_ITERATION: Final = "agentel.iteration"
AGENTEL_OUTPUT_TOKENS_PER_SECOND: Final = "agentel.usage.output_tokens_per_second"
AGENTEL_FRAMEWORK: Final = "agentel.framework"  # the agent framework a span came from
AGENTEL_HANDOFF_FROM: Final = "agentel.handoff.from"
AGENTEL_HANDOFF_TO: Final = "agentel.handoff.to"
AGENTEL_GUARDRAIL_NAME: Final = "agentel.guardrail.name"
AGENTEL_GUARDRAIL_TRIGGERED: Final = "agentel.guardrail.triggered"

# --- span events ---------------------------------------------------------------------------------
EVENT_PLAN: Final = "agentel.plan"  # record_event("plan", steps=[...])
EVENT_STATE_UPDATE: Final = "agentel.state_update"  # record_event("state_update", ...)
EVENT_CUSTOM: Final = "agentel.custom"  # record_event("custom", ...)
EVENT_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"  # feedback() inside a live span

# --- context propagation -------------------------------------------------------------------------
BAGGAGE_RUN_ID: Final = AGENTEL_RUN_ID
"""W3C baggage entry carrying the run id to other processes and services."""
CONTEXT_ITERATION_KEY: Final = "agentel-iteration"
"""OpenTelemetry context key holding the index of the current ``iteration()`` pass."""


class Operation:
    """Values of ``gen_ai.operation.name``."""

    CHAT: Final = "chat"
    TEXT_COMPLETION: Final = "text_completion"
    GENERATE_CONTENT: Final = "generate_content"
    EMBEDDINGS: Final = "embeddings"
    RETRIEVAL: Final = "retrieval"
    EXECUTE_TOOL: Final = "execute_tool"
    CREATE_AGENT: Final = "create_agent"
    INVOKE_AGENT: Final = "invoke_agent"
    INVOKE_WORKFLOW: Final = "invoke_workflow"


class Category:
    """The span record's coarse category, derived from the operation (or foreign kinds)."""

    AGENT: Final = "agent"
    WORKFLOW: Final = "workflow"
    LLM: Final = "llm"
    EMBEDDING: Final = "embedding"
    TOOL: Final = "tool"
    RETRIEVAL: Final = "retrieval"
    OTHER: Final = "other"


class Provider:
    """Values of ``gen_ai.provider.name`` that agentel's instrumentors emit."""

    OPENAI: Final = "openai"
    ANTHROPIC: Final = "anthropic"


ENV_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_STORE: Final = "AGENTEL_STORE"
ENV_PRICING: Final = "AGENTEL_PRICING"
ENV_MAX_CONTENT_CHARS: Final = "AGENTEL_MAX_CONTENT_CHARS"
DEFAULT_STORE: Final = "sqlite:///agentel.db"
