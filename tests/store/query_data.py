"""A small store that differs in every way the query API filters, groups and replays.

Five runs, all relative to one ``now`` so age filters ("2h", "7d") have a clear answer:

- A ``planner`` (1 h ago): plan, 2 OpenAI chats with captured content, a tool, state update
  and a custom event; conversation conv-1, user u1, service svc-a.
- B ``coder`` (3 h ago): an Anthropic chat, a failing tool with an exception event; the run
  fails. conversation conv-2, user u2, service svc-b.
- C ``planner`` (3 days ago): one long, expensive gpt-4o call; no content.
- D ``coder`` (10 min ago): still running (its top span has not ended); content only in an
  inference-details event (EVENT_ONLY capture).
- E (8 days ago): a foreign HTTP root span (no agent) with an embeddings call.
"""

from __future__ import annotations

import json
from typing import Any

from agentel.store import SpanRecord, build_span_record

MS = 1_000_000
HOUR = 3600 * 1000 * MS
DAY = 24 * HOUR
ROOT = {k: k * 16 for k in "abcde"}
"""The span id of each run's top span."""
RUN = {k: k * 32 + k * 16 for k in "abcde"}
"""Each run's id: its trace id, then its top span's id."""


def span(
    run: str,
    span_id: str,
    parent: str | None,
    start: int,
    end: int | None,
    *,
    name: str,
    status: str = "unset",
    message: str | None = None,
    events: list[dict[str, Any]] | None = None,
    resource: dict[str, Any] | None = None,
    stamp: bool = True,
    **attrs: Any,
) -> SpanRecord:
    if stamp:
        attrs["agentel.run.id"] = RUN[run]
    return build_span_record(
        trace_id=run * 32,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind="internal",
        start_ns=start,
        end_ns=end,
        status=status,
        status_message=message,
        attributes=attrs,
        events=events,
        resource=resource,
    )


def messages(*pairs: tuple[str, str]) -> str:
    return json.dumps(
        [{"role": r, "parts": [{"type": "text", "content": c}]} for r, c in pairs],
        ensure_ascii=False,
    )


def chat_attrs(model: str, provider: str, inp: int, out: int, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "gen_ai.provider.name": provider,
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
        **extra,
    }


def agent_attrs(name: str, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name, **extra}


def event(name: str, at: int, **attributes: Any) -> dict[str, Any]:
    return {"name": name, "timestamp": at, "attributes": attributes}


def dataset(now: int) -> list[SpanRecord]:
    """The spans of runs A-E (see the module docstring)."""
    a, b, c, d, e = (
        now - HOUR,
        now - 3 * HOUR,
        now - 3 * DAY,
        now - 10 * 60_000 * MS,
        now - 8 * DAY,
    )
    svc_a, svc_b = {"service.name": "svc-a"}, {"service.name": "svc-b"}
    question = "What's the weather in Paris?"
    return [
        # --- A: planner, content, events
        span("a", ROOT["a"], None, a, a + 900 * MS, name="invoke_agent planner", resource=svc_a,
             events=[event("agentel.plan", a + 1 * MS, steps=["look up", "answer"], step_count=2),
                     event("agentel.state_update", a + 500 * MS, keys=["city"]),
                     event("agentel.checkpoint", a + 800 * MS, note="saved")],
             **agent_attrs("planner", **{"gen_ai.conversation.id": "conv-1", "user.id": "u1"})),
        span("a", "a1" * 8, ROOT["a"], a + 10 * MS, a + 300 * MS, name="chat gpt-4o-mini",
             resource=svc_a,
             events=[event("agentel.tool_call", a + 300 * MS, **{"gen_ai.tool.name": "get_weather"})],
             **chat_attrs("gpt-4o-mini", "openai", 1000, 50, **{
                 "gen_ai.input.messages": messages(("system", "Be brief."), ("user", question)),
                 "gen_ai.request.temperature": 0.2,
                 "gen_ai.response.time_to_first_chunk": 0.12})),
        span("a", "a2" * 8, ROOT["a"], a + 310 * MS, a + 400 * MS, name="execute_tool get_weather",
             resource=svc_a, **{"gen_ai.operation.name": "execute_tool",
                                "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1",
                                "gen_ai.tool.call.arguments": '{"city": "Paris"}',
                                "gen_ai.tool.call.result": 'He said "bring an umbrella" in Zürich'}),
        span("a", "a3" * 8, ROOT["a"], a + 410 * MS, a + 890 * MS, name="chat gpt-4o-mini",
             resource=svc_a,
             **chat_attrs("gpt-4o-mini", "openai", 1500, 80, **{
                 "gen_ai.input.messages": messages(("user", question), ("tool", "14C, rain")),
                 "gen_ai.output.messages": messages(("assistant", "Rainy, 14C: take a coat."))})),
        # --- B: coder, fails
        span("b", ROOT["b"], None, b, b + 2000 * MS, name="invoke_agent coder", status="error",
             message="tests failed", resource=svc_b,
             **agent_attrs("coder", **{"gen_ai.conversation.id": "conv-2", "user.id": "u2"})),
        span("b", "b1" * 8, ROOT["b"], b + 5 * MS, b + 1005 * MS, name="chat claude-sonnet-4-5",
             resource=svc_b, **chat_attrs("claude-sonnet-4-5", "anthropic", 3000, 400)),
        span("b", "b2" * 8, ROOT["b"], b + 1010 * MS, b + 1900 * MS, name="execute_tool run_tests",
             status="error", message="2 failed", resource=svc_b,
             events=[event("exception", b + 1899 * MS, **{"exception.type": "AssertionError",
                                                          "exception.message": "2 failed"})],
             **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "run_tests",
                "error.type": "AssertionError"}),
        # --- C: planner, expensive, long, no content
        span("c", ROOT["c"], None, c, c + 30_000 * MS, name="invoke_agent planner",
             **agent_attrs("planner")),
        span("c", "c1" * 8, ROOT["c"], c + 10 * MS, c + 29_000 * MS, name="chat gpt-4o",
             **chat_attrs("gpt-4o", "openai", 20_000, 2_000)),
        # --- D: coder, still running, content in an event only
        span("d", ROOT["d"], None, d, None, name="invoke_agent coder", **agent_attrs("coder")),
        span("d", "d1" * 8, ROOT["d"], d + 1 * MS, d + 200 * MS, name="chat gpt-4o-mini",
             events=[event("gen_ai.client.inference.operation.details", d + 200 * MS, **{
                 "gen_ai.input.messages": messages(("user", "Book a table in Lyon"))})],
             **chat_attrs("gpt-4o-mini", "openai", 100, 10)),
        # --- E: foreign HTTP root (no run stamp), embeddings below it
        span("e", ROOT["e"], None, e, e + 50 * MS, name="GET /search", stamp=False),
        span("e", "e1" * 8, ROOT["e"], e + 1 * MS, e + 40 * MS, name="embeddings text-embedding-3-small",
             stamp=False, **{"gen_ai.operation.name": "embeddings",
                             "gen_ai.request.model": "text-embedding-3-small",
                             "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 500}),
    ]  # fmt: skip
