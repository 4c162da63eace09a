"""A scripted, OpenAI- and Anthropic-compatible LLM server for demos and offline tests.

The server speaks enough of the real wire formats for the official ``openai`` and
``anthropic`` SDKs (sync, async, streaming and their stream helpers) to parse every field::

    from agentel.testing import ScriptedLLMServer, Reply, ToolCall, Usage

    with ScriptedLLMServer() as srv:
        srv.enqueue(
            Reply.tool_calls(ToolCall("get_weather", {"city": "Paris"})),
            Reply.text("It is sunny.", usage=Usage(input_tokens=120, output_tokens=8)),
        )
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="test")
        anthropic_client = anthropic.Anthropic(base_url=srv.anthropic_base_url, api_key="test")

Endpoints: ``POST /v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``,
``/v1/messages``, ``/v1/messages/count_tokens`` and ``GET /v1/models`` (the ``/v1``
prefix is optional). Standard library only; the server runs in a background thread on
127.0.0.1 and a free port. ``python -m agentel.testing --port 8765`` runs it in the
foreground.

Script: replies are consumed FIFO by every generating endpoint. Embeddings only consume a
queued reply when it is an error (text / tool-call replies are left for the chat calls).
When the queue is empty, ``auto=True`` answers with the AUTO policy below; ``auto=False``
answers HTTP 500 "no scripted reply left" (with ``x-should-retry: false``). Scripted
errors carry no retry header, so SDK retries consume further replies unless the client
uses ``max_retries=0`` (or the reply sets ``headers={"x-should-retry": "false"}``).

Usage: ``Usage`` follows OpenTelemetry: ``input_tokens`` includes cached and cache-write
tokens, ``output_tokens`` includes reasoning tokens. OpenAI chat reports
``prompt_tokens = input_tokens`` (``prompt_tokens_details.cached_tokens``), Responses
reports ``input_tokens`` (``input_tokens_details.cached_tokens / cache_write_tokens``),
Anthropic reports ``input_tokens = input - cached - cache_write`` plus
``cache_read_input_tokens`` and ``cache_creation_input_tokens``.

Estimated usage (when a reply has ``usage=None``), deterministic:

- ``input_tokens = ceil(chars / 4) + 4 * messages + 3`` where ``messages`` counts every
  message / input item (a system prompt or ``instructions`` counts as one) and ``chars`` is
  the total length of their text (tool calls count as name + arguments JSON, tool results
  as their text) plus the length of the compact JSON of the ``tools`` list
  (``json.dumps(tools, separators=(",", ":"), ensure_ascii=False)``).
- ``output_tokens = ceil(len(text + thinking + tool names + arguments JSON) / 4) + 1``;
  ``reasoning_tokens = ceil(len(thinking) / 4)``; no cache tokens. Chat ``n > 1``
  multiplies the output tokens by ``n``.
- embeddings: ``ceil(len(s) / 4)`` per input string, ``len(ids)`` per token array.

:func:`estimate_usage` (``estimate_input_tokens`` / ``estimate_output_tokens``) computes
exactly these numbers, e.g. ``estimate_usage("chat", srv.requests[-1].body, text="hi")``.

AUTO policy (deterministic, agent-friendly): if the request offers function tools
(``tool_choice`` "none" disables them, a named choice picks that tool) and no tool result
came after the latest user message, call the FIRST tool with arguments built from its JSON
schema: each required (or, if none is required, each) property gets -- string: the last
capitalized word of the latest user message that does not start a sentence, punctuation
stripped (else the message truncated to 40 chars); integer/number: 1; boolean: true;
enum: its first value; array: []; object: {}. Otherwise answer text:
``"Here is what I found: <tool result[:200]>"`` after a tool result, else
``"You said: <latest user message[:200]>"``.
"""

from ._cassette import Cassette, CassetteError, RecordedCall
from ._replay import Divergence, Replay, ReplayMismatch, ReplayServer, replay
from ._script import (
    RecordedRequest,
    Reply,
    ToolCall,
    Usage,
    arguments_from_schema,
    auto_reply,
    embedding_vector,
    estimate_embedding_tokens,
    estimate_input_tokens,
    estimate_output_tokens,
    estimate_tokens,
    estimate_usage,
    extract_argument,
)
from ._server import NO_REPLY_LEFT, ScriptedLLMServer

__all__ = [
    "NO_REPLY_LEFT",
    "Cassette",
    "CassetteError",
    "Divergence",
    "RecordedCall",
    "RecordedRequest",
    "Replay",
    "ReplayMismatch",
    "ReplayServer",
    "Reply",
    "ScriptedLLMServer",
    "ToolCall",
    "Usage",
    "arguments_from_schema",
    "auto_reply",
    "embedding_vector",
    "estimate_embedding_tokens",
    "estimate_input_tokens",
    "estimate_output_tokens",
    "estimate_tokens",
    "estimate_usage",
    "extract_argument",
    "replay",
]
