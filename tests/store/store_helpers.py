"""Span records for store tests, built the way every ingest path builds them."""

from __future__ import annotations

from typing import Any

from agentel.store import SpanRecord, build_span_record

TRACE = "ab" * 16


def rec(
    span_id: str,
    parent: str | None = None,
    *,
    start: int = 0,
    end: int | None = 100,
    status: str = "unset",
    trace_id: str = TRACE,
    name: str | None = None,
    resource: dict[str, Any] | None = None,
    **attrs: Any,
) -> SpanRecord:
    """One span record; keyword arguments beyond the named ones are its attributes."""
    return build_span_record(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name or f"span {span_id}",
        kind="internal",
        start_ns=start,
        end_ns=end,
        status=status,
        status_message=None,
        attributes=attrs,
        resource=resource,
    )


def chat(span_id: str, parent: str | None, model: str = "gpt-4o-mini", **kw: Any) -> SpanRecord:
    """An LLM span with usage: ``inp``/``out`` tokens (default 1000/200)."""
    inp, out = kw.pop("inp", 1000), kw.pop("out", 200)
    return rec(
        span_id,
        parent,
        **{
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": inp,
            "gen_ai.usage.output_tokens": out,
        },
        **kw,
    )


def agent_run(
    prefix: str = "a", trace_id: str = TRACE, start: int = 0, run_id: str | None = None
) -> list[SpanRecord]:
    """agent > (chat, execute_tool, chat) with run ids stamped as our processor does."""
    run_id = run_id or prefix * 16
    stamp = {"agentel.run.id": run_id}
    return [
        rec(
            run_id,
            None,
            start=start,
            end=start + 1000,
            trace_id=trace_id,
            **stamp,
            **{"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bot"},
        ),
        chat("1" * 16, run_id, start=start + 10, end=start + 100, trace_id=trace_id, **stamp),
        rec(
            "2" * 16,
            run_id,
            start=start + 110,
            end=start + 120,
            trace_id=trace_id,
            **stamp,
            **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"},
        ),
        chat(
            "3" * 16,
            run_id,
            start=start + 130,
            end=start + 900,
            trace_id=trace_id,
            inp=1500,
            out=300,
            **stamp,
        ),
    ]


def rid(span_id: str, trace_id: str = TRACE) -> str:
    """The run id of the run rooted at ``span_id`` in ``trace_id``."""
    return trace_id + span_id
