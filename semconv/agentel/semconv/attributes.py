"""Attribute keys, event and metric names, operations and settings that agentel emits and reads.

GENERATED from registry.json by ``python -m agentel.semconv.generate``: do not edit by hand.
Official OpenTelemetry GenAI names come first; anything the official registry lacks lives under
``agentel.`` (the one exception is ``gen_ai.usage.cost``, the de-facto cost key).
See docs/semconv.md for the human reference.
"""

from __future__ import annotations

from typing import Final

# --- Operation and provider -------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
"""The operation a span performs; decides its record category. (string, official, development,
required)
"""
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
"""The GenAI provider that served the call, as identified by the instrumentation. (string,
official, development, required)
"""
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""Deprecated predecessor of `gen_ai.provider.name`. (string, official, deprecated, recommended,
read only: agentel never emits it)
"""

# --- Agents, child agents and internal sub-steps ----------------------------------------------
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
"""Unique identifier of the agent. (string, official, development, conditionally_required)"""
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
"""Human-readable name of the agent; names the run. (string, official, development,
conditionally_required)
"""
GEN_AI_AGENT_DESCRIPTION: Final = "gen_ai.agent.description"
"""Free-form description of what the agent does. (string, official, development,
conditionally_required)
"""
GEN_AI_AGENT_VERSION: Final = "gen_ai.agent.version"
"""Version of the agent. (string, official, development, conditionally_required)"""
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
"""Name of a workflow (a run that is not a single agent). (string, official, development,
conditionally_required)
"""
AGENTEL_AGENT_RELATION: Final = "agentel.agent.relation"
"""How an agent span relates to the run it is in. (string, agentel, development, recommended)"""
AGENTEL_STEP_NAME: Final = "agentel.step.name"
"""Name of an internal sub-step of the current agent (not a separate agent). (string, agentel,
development, conditionally_required)
"""
AGENTEL_STEP_TYPE: Final = "agentel.step.type"
"""Kind of internal sub-step. (string, agentel, development, recommended)"""
AGENTEL_FRAMEWORK: Final = "agentel.framework"
"""The agent framework a span was translated from. (string, agentel, development, recommended)"""
AGENTEL_HANDOFF_FROM: Final = "agentel.handoff.from"
"""The agent handing the conversation over (OpenAI Agents SDK handoff spans). (string, agentel,
development, recommended)
"""
AGENTEL_HANDOFF_TO: Final = "agentel.handoff.to"
"""The agent receiving the conversation in a handoff. (string, agentel, development,
recommended)
"""
AGENTEL_GUARDRAIL_NAME: Final = "agentel.guardrail.name"
"""The guardrail a `guardrail {name}` span ran. (string, agentel, development, recommended)"""
AGENTEL_GUARDRAIL_TRIGGERED: Final = "agentel.guardrail.triggered"
"""Whether the guardrail tripped (the run then fails). (boolean, agentel, development,
recommended)
"""

# --- Runs and loop iterations -----------------------------------------------------------------
AGENTEL_RUN_ID: Final = "agentel.run.id"
"""Id of the run a span belongs to (the span id of the run's root agent/workflow span, hex).
(string, agentel, development, recommended)
"""
AGENTEL_RERUN_OF: Final = "agentel.rerun.of"
"""Id of the recorded run this run re-runs (`agentel rerun`), on the re-run's top agent/workflow
span. (string, agentel, development, recommended)
"""
AGENTEL_RUN_ITERATIONS: Final = "agentel.run.iterations"
"""Number of loop iterations (LLM -> tools -> LLM ...) the run went through. (int, unit
{iteration}, agentel, development, recommended)
"""
AGENTEL_ITERATION: Final = "agentel.iteration"
"""1-based index of the agent-loop iteration a span belongs to. (int, unit {iteration}, agentel,
development, recommended)
"""

# --- Conversation, session and user -----------------------------------------------------------
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
"""Id of the conversation (session, thread) a run or call belongs to. (string, official,
development, conditionally_required)
"""
SESSION_ID: Final = "session.id"
"""Generic session id; read as the conversation id when `gen_ai.conversation.id` is absent.
(string, official, development, recommended, read only: agentel never emits it)
"""
USER_ID: Final = "user.id"
"""Id of the end user on whose behalf the agent runs. (string, official, development,
recommended)
"""

# --- LLM request ------------------------------------------------------------------------------
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
"""Model requested (on agent spans: the agent's default model). (string, official, development,
required)
"""
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
"""Sampling temperature. (double, official, development, recommended)"""
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
"""Nucleus sampling parameter. (double, official, development, recommended)"""
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
"""Top-k sampling parameter. (double, official, development, recommended)"""
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
"""Maximum number of output tokens requested. (int, unit {token}, official, development,
recommended)
"""
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
"""Seed requested for reproducible sampling. (int, official, development,
conditionally_required)
"""
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
"""Sequences that stop generation. (string[], official, development, recommended)"""
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
"""Number of candidate completions requested, when not 1. (int, official, development,
conditionally_required)
"""
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
"""Frequency penalty. (double, official, development, recommended)"""
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
"""Presence penalty. (double, official, development, recommended)"""
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
"""Whether the response was requested as a stream. (boolean, official, development,
conditionally_required)
"""
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
"""Requested output type. (string, official, development, conditionally_required)"""
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
"""OpenAI service tier requested (not set for `auto`). (string, official, development,
conditionally_required)
"""
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
"""The encoding formats requested for embeddings. (string[], official, development, recommended)"""

# --- LLM response -----------------------------------------------------------------------------
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
"""Provider's id of the response. (string, official, development, recommended)"""
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
"""Model that actually served the call; used for pricing. (string, official, development,
recommended)
"""
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
"""Why each choice stopped. (string[], official, development, recommended)"""
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
"""OpenAI service tier that served the call. (string, official, development,
conditionally_required)
"""
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
"""OpenAI backend configuration fingerprint. (string, official, development, recommended)"""
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
"""The number of dimensions of the returned embeddings. (int, official, development,
recommended)
"""

# --- Token usage ------------------------------------------------------------------------------
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""Input (prompt) tokens, INCLUDING cache-read and cache-write tokens. (int, unit {token},
official, development, recommended)
"""
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
"""Output tokens, INCLUDING reasoning tokens. (int, unit {token}, official, development,
recommended)
"""
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Input tokens served from the provider's prompt cache. (int, unit {token}, official,
development, recommended)
"""
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
"""Input tokens written to the provider's prompt cache. (int, unit {token}, official,
development, recommended)
"""
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
"""Output tokens spent on reasoning (hidden thinking). (int, unit {token}, official,
development, recommended)
"""
GEN_AI_USAGE_PROMPT_TOKENS: Final = "gen_ai.usage.prompt_tokens"
"""Deprecated predecessor of `gen_ai.usage.input_tokens`. (int, unit {token}, official,
deprecated, recommended, read only: agentel never emits it)
"""
GEN_AI_USAGE_COMPLETION_TOKENS: Final = "gen_ai.usage.completion_tokens"
"""Deprecated predecessor of `gen_ai.usage.output_tokens`. (int, unit {token}, official,
deprecated, recommended, read only: agentel never emits it)
"""
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
"""Token type of a `gen_ai.client.token.usage` measurement. (string, official, development,
required)
"""
AGENTEL_USAGE_MISSING: Final = "agentel.usage.missing"
"""Why a call that ended without error reported no token usage (its cost is then unknown).
(string, agentel, development, conditionally_required)
"""

# --- Streaming: time to first chunk and throughput --------------------------------------------
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
"""Time from sending the request to the first streamed chunk. (double, unit s, official,
development, conditionally_required)
"""
AGENTEL_OUTPUT_TOKENS_PER_SECOND: Final = "agentel.usage.output_tokens_per_second"
"""Output tokens per second after the first chunk (output tokens / (end - first chunk)).
(double, unit {token}/s, agentel, development, recommended)
"""
AGENTEL_STREAM_END: Final = "agentel.stream.end"
"""How a streamed call's span ended. (string, agentel, development, recommended)"""

# --- Tools ------------------------------------------------------------------------------------
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
"""Name of the tool. (string, official, development, required)"""
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
"""Id of the tool call the model requested. (string, official, development, recommended)"""
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
"""Kind of tool. (string, official, development, recommended)"""
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
"""What the tool does. (string, official, development, recommended)"""
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
"""Arguments of the tool call (JSON). Content: opt-in. (string, official, development, opt_in)"""
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
"""Result of the tool call (JSON). Content: opt-in. (string, official, development, opt_in)"""
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
"""Tool definitions offered to the model (JSON). Content: opt-in. (string, official,
development, opt_in)
"""
MCP_METHOD_NAME: Final = "mcp.method.name"
"""The MCP request method (JSON-RPC method name). (string, official, development, required)"""
MCP_SESSION_ID: Final = "mcp.session.id"
"""The MCP session the request belongs to (Streamable HTTP). (string, official, development,
recommended)
"""
MCP_PROTOCOL_VERSION: Final = "mcp.protocol.version"
"""The MCP protocol version the session negotiated. (string, official, development, recommended)"""
MCP_RESOURCE_URI: Final = "mcp.resource.uri"
"""The resource a `resources/read` request reads. (string, official, development,
conditionally_required)
"""
GEN_AI_PROMPT_NAME: Final = "gen_ai.prompt.name"
"""The name of the prompt template a `prompts/get` request fetches. (string, official,
development, conditionally_required)
"""
AGENTEL_MCP_SERVER_NAME: Final = "agentel.mcp.server.name"
"""The MCP server's name, as it announced itself when the session was initialized. (string,
agentel, development, recommended)
"""
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
"""The data source a retrieval reads (LlamaIndex: the retriever's class). (string, official,
development, recommended)
"""
AGENTEL_RETRIEVAL_DOCUMENT_COUNT: Final = "agentel.retrieval.document_count"
"""How many documents a retrieval returned. (int, unit {document}, agentel, development,
recommended)
"""
AGENTEL_RETRIEVAL_SCORES: Final = "agentel.retrieval.scores"
"""The relevance scores of the documents a retrieval returned, in order. (double[], agentel,
development, recommended)
"""

# --- Message content (opt-in) -----------------------------------------------------------------
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
"""Messages sent to the model (JSON). Content: opt-in. (string, official, development, opt_in)"""
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
"""Messages the model returned (JSON). Content: opt-in. (string, official, development, opt_in)"""
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
"""System instructions sent to the model (JSON). Content: opt-in. (string, official,
development, opt_in)
"""
AGENTEL_TRUNCATED_ATTRIBUTES: Final = "agentel.truncated.attributes"
"""Keys of the attributes whose value the store cut to its size cap at ingest. (string[],
agentel, development, conditionally_required)
"""
AGENTEL_TRUNCATED_SIZES: Final = "agentel.truncated.sizes"
"""Original length in characters of each value named in `agentel.truncated.attributes`, in the
same order. (int[], unit {char}, agentel, development, conditionally_required)
"""

# --- Cost -------------------------------------------------------------------------------------
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"
"""Total cost of the call in USD. (double, unit {USD}, agentel, development, recommended)"""
AGENTEL_COST_INPUT: Final = "agentel.cost.input"
"""Cost of the uncached input tokens, in USD; absent when zero. (double, unit {USD}, agentel,
development, recommended)
"""
AGENTEL_COST_OUTPUT: Final = "agentel.cost.output"
"""Cost of the visible (non-reasoning) output tokens, in USD; absent when zero. (double, unit
{USD}, agentel, development, recommended)
"""
AGENTEL_COST_CACHE_READ: Final = "agentel.cost.cache_read"
"""Cost of the cache-read input tokens, in USD; absent when zero. (double, unit {USD}, agentel,
development, recommended)
"""
AGENTEL_COST_CACHE_WRITE: Final = "agentel.cost.cache_write"
"""Cost of the cache-write input tokens, in USD; absent when zero. (double, unit {USD}, agentel,
development, recommended)
"""
AGENTEL_COST_REASONING: Final = "agentel.cost.reasoning"
"""Cost of the reasoning output tokens, in USD; absent when zero. (double, unit {USD}, agentel,
development, recommended)
"""
AGENTEL_COST_SOURCE: Final = "agentel.cost.source"
"""Where the price came from. (string, agentel, development, recommended)"""
AGENTEL_COST_PRICE_VERSION: Final = "agentel.cost.price_version"
"""Version of the price table used: the catalog date, or `override:<origin>`. (string, agentel,
development, recommended)
"""

# --- Server, service and errors ---------------------------------------------------------------
ERROR_TYPE: Final = "error.type"
"""Class of error the operation ended with. (string, official, stable, conditionally_required)"""
SERVER_ADDRESS: Final = "server.address"
"""Host name of the GenAI server. (string, official, stable, recommended)"""
SERVER_PORT: Final = "server.port"
"""Port of the GenAI server. (int, official, stable, conditionally_required)"""
SERVICE_NAME: Final = "service.name"
"""Logical service name (resource attribute); stored on every span record. (string, official,
stable, recommended)
"""
EXCEPTION_TYPE: Final = "exception.type"
"""Exception class (on the `exception` event). (string, official, stable,
conditionally_required)
"""
EXCEPTION_MESSAGE: Final = "exception.message"
"""Exception message (on the `exception` event). (string, official, stable,
conditionally_required)
"""
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
"""Stack trace (on the `exception` event). (string, official, stable, recommended)"""
EXCEPTION_ESCAPED: Final = "exception.escaped"
"""Whether the exception escaped the span's scope (on the `exception` event). (boolean,
official, deprecated, recommended)
"""
AGENTEL_RETRY_ATTEMPT: Final = "agentel.retry.attempt"
"""Which retry of the call this is (1 for the first). (int, agentel, development, required)"""
AGENTEL_RETRY_WAIT: Final = "agentel.retry.wait"
"""How long the SDK waited before the retry (its backoff, or the server's retry-after). (double,
unit s, agentel, development, required)
"""
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
"""The HTTP status of the failed attempt that is retried. (int, official, stable,
conditionally_required)
"""

# --- Event fields: plan, state update, evaluation and feedback --------------------------------
AGENTEL_PLAN_STEPS: Final = "agentel.plan.steps"
"""The plan's steps, in order. Content: opt-in. (string[], agentel, development, opt_in)"""
AGENTEL_PLAN_STEP_COUNT: Final = "agentel.plan.step_count"
"""Number of steps in the plan. (int, unit {step}, agentel, development, recommended)"""
AGENTEL_PLAN_REVISION: Final = "agentel.plan.revision"
"""0 for the first plan, +1 for every re-plan. (int, agentel, development, recommended)"""
AGENTEL_STATE_KEYS: Final = "agentel.state.keys"
"""Keys of the agent state that changed. (string[], agentel, development, recommended)"""
AGENTEL_STATE_UPDATE: Final = "agentel.state.update"
"""The changed values (JSON). Content: opt-in. (string, agentel, development, opt_in)"""
GEN_AI_EVALUATION_NAME: Final = "gen_ai.evaluation.name"
"""Name of the evaluation or feedback metric. (string, official, development, required)"""
GEN_AI_EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"
"""Score of the evaluation / feedback. (double, official, development, conditionally_required)"""
GEN_AI_EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"
"""Human-readable label of the score. (string, official, development, conditionally_required)"""
GEN_AI_EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"
"""Free-form explanation (the user's comment). (string, official, development, recommended)"""

# --- span events ------------------------------------------------------------------------------
EVENT_TOOL_CALL: Final = "agentel.tool_call"
"""A tool call the model requested in its response (one event per call)."""
EVENT_PLAN: Final = "agentel.plan"
"""The agent made or revised a plan."""
EVENT_STATE_UPDATE: Final = "agentel.state_update"
"""The agent's working state changed."""
EVENT_CUSTOM_PREFIX: Final = "agentel."
"""A custom event: `record_event(kind, **data)` adds `agentel.<kind>` with `data` as attributes."""
EVENT_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"
"""An evaluation of a run or call, including user feedback."""
EVENT_EXCEPTION: Final = "exception"
"""An exception raised by the operation (OTel SDK `record_exception`)."""
EVENT_RETRY: Final = "agentel.retry"
"""The provider SDK retried the call after a failed attempt (one event per retry, at the start
of its wait).
"""
EVENT_CUSTOM: Final = "agentel.custom"
"""An application-defined event: `record_event("custom", **data)`."""
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
"""Captured content of one LLM call, emitted as a span event when content capture is
SPAN_AND_EVENT or EVENT_ONLY.
"""

# --- metrics ----------------------------------------------------------------------------------
METRIC_GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
"""Input and output tokens per call. (histogram, unit {token})"""
METRIC_GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
"""Duration of a GenAI client operation. (histogram, unit s)"""
METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: Final = (
    "gen_ai.client.operation.time_to_first_chunk"
)
"""Time from the request to the first streamed chunk. (histogram, unit s)"""
METRIC_AGENTEL_CLIENT_COST: Final = "agentel.client.cost"
"""Cost of priced GenAI calls, in USD. (counter, unit {USD})"""
METRIC_AGENTEL_CLIENT_UNPRICED_CALLS: Final = "agentel.client.unpriced_calls"
"""GenAI calls with usage but no known price (never counted as free). (counter, unit {call})"""
METRIC_AGENTEL_EXPORTER_DROPPED_SPANS: Final = "agentel.exporter.dropped_spans"
"""Spans a store exporter gave up on (store unreachable past the retry bound, buffer full, or a
record the store rejected). (counter, unit {span})
"""


class Operation:
    """Values of ``gen_ai.operation.name``."""

    CHAT: Final = "chat"
    """A chat / messages call to a model."""
    TEXT_COMPLETION: Final = "text_completion"
    """A legacy text completion call."""
    GENERATE_CONTENT: Final = "generate_content"
    """A multimodal generation call (Gemini)."""
    EMBEDDINGS: Final = "embeddings"
    """An embeddings call."""
    RETRIEVAL: Final = "retrieval"
    """A retrieval from a vector store or search index."""
    EXECUTE_TOOL: Final = "execute_tool"
    """A tool execution."""
    CREATE_AGENT: Final = "create_agent"
    """Creation / initialisation of an agent (name, id, description, version, model)."""
    INVOKE_AGENT: Final = "invoke_agent"
    """One agent run: success or failure, iterations, usage. The top-most one in a trace is a
    run; nested ones are child agents.
    """
    INVOKE_WORKFLOW: Final = "invoke_workflow"
    """One workflow run (several agents or steps under one name)."""


class Category:
    """The span record's coarse category, derived from the operation (or foreign kinds)."""

    AGENT: Final = "agent"
    """`create_agent` / `invoke_agent` spans and foreign agent spans."""
    WORKFLOW: Final = "workflow"
    """`invoke_workflow` spans and foreign workflow / chain spans."""
    LLM: Final = "llm"
    """LLM calls; their usage and cost roll up into runs."""
    EMBEDDING: Final = "embedding"
    """Embedding calls; their usage and cost roll up into runs."""
    TOOL: Final = "tool"
    """Tool executions."""
    RETRIEVAL: Final = "retrieval"
    """Retrievals."""
    OTHER: Final = "other"
    """Anything else (HTTP, internal sub-steps, unknown operations)."""


class Provider:
    """Values of ``gen_ai.provider.name`` that agentel's instrumentors emit."""

    OPENAI: Final = "openai"
    """OpenAI (and OpenAI-compatible endpoints)."""
    ANTHROPIC: Final = "anthropic"
    """Anthropic."""
    GCP_GEN_AI: Final = "gcp.gen_ai"
    """Google Gen AI SDK calls (Gemini API or Vertex AI)."""
    AWS_BEDROCK: Final = "aws.bedrock"
    """Amazon Bedrock runtime."""
    MISTRAL_AI: Final = "mistral_ai"
    """Mistral AI."""


# --- settings ---------------------------------------------------------------------------------
ENV_CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""Opt in to capturing message content, tool arguments and results."""
ENV_STORE: Final = "AGENTEL_STORE"
"""Store URL used when none is given."""
ENV_PRICING: Final = "AGENTEL_PRICING"
"""Path of a JSON price file that overrides the catalog."""
ENV_MAX_CONTENT_CHARS: Final = "AGENTEL_MAX_CONTENT_CHARS"
"""Size cap for captured content, in characters."""
ENV_MAX_ATTRIBUTE_CHARS: Final = "AGENTEL_MAX_ATTRIBUTE_CHARS"
"""Size cap the store applies to every string attribute value at ingest, in characters."""
ENV_ABANDON_AFTER: Final = "AGENTEL_ABANDON_AFTER"
"""How long a running run may go without a new span before it shows as abandoned: seconds, or
90s, 30m, 2h, 1d (default 1 h).
"""
ENV_RERUN_OF: Final = "AGENTEL_RERUN_OF"
"""Set by `agentel rerun` for the command it runs: the id of the run being re-run (stamped as
agentel.rerun.of).
"""
DEFAULT_STORE: Final = "sqlite:///agentel.db"
"""The default store URL."""
BAGGAGE_RUN_ID: Final = "agentel.run.id"
"""W3C baggage entry carrying the run id to other processes and services."""
CONTEXT_ITERATION_KEY: Final = "agentel-iteration"
"""OpenTelemetry context key holding the index of the current `iteration()` pass."""
