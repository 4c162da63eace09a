"""A real LlamaIndex FunctionAgent (LlamaIndex's OpenAI LLM over the scripted server, one
function tool) and a retriever, recorded through LlamaIndexInstrumentor into SQLite: one run,
exact tokens and cost, identical with the OpenAI provider instrumentor on or off.

LlamaIndex needs ``openai<3``, so these tests run in a venv of their own, shared with CrewAI's
(``make test-openai2-frameworks``, which ``.ci/run`` calls); there
``AGENTEL_REQUIRE_LLAMA_INDEX=1`` turns a missing LlamaIndex into a failure instead of a skip.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest

if os.environ.get("AGENTEL_REQUIRE_LLAMA_INDEX") != "1":
    pytest.importorskip(
        "llama_index.core",
        reason="LlamaIndex is tested in its own venv: make test-openai2-frameworks",
    )

from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.llms.openai import OpenAI
from opentelemetry import trace
from runtree import IN, OUT, run_totals, shape, tree

from agentel.instrumentation import agent
from agentel.instrumentation.llama_index import LlamaIndexInstrumentor
from agentel.semconv import attributes as A
from agentel.testing import Reply, ScriptedLLMServer, ToolCall, Usage


@pytest.fixture
def llama_index_instrumented(fanout) -> Iterator[LlamaIndexInstrumentor]:
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"14C and light rain in {city}"


def script(server: ScriptedLLMServer) -> None:
    server.enqueue(
        Reply.tool_calls(
            ToolCall("get_weather", {"city": "Paris"}),
            usage=Usage(input_tokens=80, output_tokens=8),
        ),
        Reply.text("Rainy, 14C.", usage=Usage(input_tokens=120, output_tokens=3)),
    )


def weather_agent(server: ScriptedLLMServer, *, streaming: bool) -> FunctionAgent:
    llm = OpenAI(
        model="gpt-4o-mini",
        api_base=server.openai_base_url,
        api_key="test",
        max_retries=0,
        # streamed answers carry usage only when asked for, as on the real API
        additional_kwargs={"stream_options": {"include_usage": True}} if streaming else {},
    )
    return FunctionAgent(
        name="weather",
        tools=[get_weather],
        llm=llm,
        system_prompt="Answer weather questions.",
        streaming=streaming,
    )


TOTALS = {
    "llm_calls": 2,
    "tool_calls": 1,
    "errors": 0,
    "input_tokens": 200,
    "output_tokens": 11,
    "cost_usd": pytest.approx(200 * IN + 11 * OUT),
}


@pytest.mark.parametrize("streaming", [False, True], ids=["chat", "stream"])
def test_function_agent_is_one_run(
    provider_instrumentor, llama_index_instrumented, sqlite_recording, streaming
):
    async def main() -> str:
        with ScriptedLLMServer(auto=False) as server:
            script(server)
            return str(await weather_agent(server, streaming=streaming).run("Weather in Paris?"))

    assert asyncio.run(main()) == "Rainy, 14C."
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = store.spans()
    assert run["name"] == "invoke_agent weather" and run["agent_name"] == "weather"
    assert run_totals(run) == TOTALS

    def chat():
        inner = (tree("chat gpt-4o-mini"),) if provider_instrumentor else ()
        return tree("chat gpt-4o-mini", *inner)

    assert shape(root) == tree(
        "invoke_agent weather", chat(), tree("execute_tool get_weather"), chat()
    )
    dumped = json.dumps([s["attributes"] for s in spans])
    for text in ("Weather in Paris?", "Rainy, 14C.", "light rain"):
        assert text not in dumped  # content is off by default


class NotesRetriever(BaseRetriever):
    """A retriever over three fixed notes, scored by a fixed ranking."""

    def _retrieve(self, query_bundle):
        notes = [("umbrella", 0.82), ("boots", 0.77), ("sunscreen", 0.41)]
        return [NodeWithScore(node=TextNode(text=t), score=s) for t, s in notes]


def test_retrieval_and_embeddings_nest_in_the_run(llama_index_instrumented, sqlite_recording):
    with agent("packing-agent"):
        nodes = NotesRetriever().retrieve("what to pack for Paris?")
        MockEmbedding(embed_dim=8).get_query_embedding("what to pack for Paris?")
    assert len(nodes) == 3
    with sqlite_recording.open() as store:
        (run,) = store.runs()
        (root,) = store.run_tree(run["run_id"])
        spans = {s["name"]: s for s in store.spans()}
    assert shape(root) == tree(
        "invoke_agent packing-agent",
        tree("retrieval NotesRetriever"),
        tree("embeddings MockEmbedding"),
    )
    retrieval = spans["retrieval NotesRetriever"]
    assert retrieval["category"] == "retrieval"
    assert retrieval["attributes"][A.AGENTEL_RETRIEVAL_DOCUMENT_COUNT] == 3
    assert list(retrieval["attributes"][A.AGENTEL_RETRIEVAL_SCORES]) == [0.82, 0.77, 0.41]
    assert "umbrella" not in json.dumps(retrieval["attributes"])
    assert spans["embeddings MockEmbedding"]["category"] == "embedding"


def test_content_when_opted_in(fanout, sqlite_recording, monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    try:

        async def main() -> str:
            with ScriptedLLMServer(auto=False) as server:
                script(server)
                return str(await weather_agent(server, streaming=False).run("Weather in Paris?"))

        asyncio.run(main())
    finally:
        instrumentor.uninstrument()
    with sqlite_recording.open() as store:
        spans = store.spans()
    tool = next(s for s in spans if s["name"] == "execute_tool get_weather")
    assert json.loads(tool["attributes"][A.GEN_AI_TOOL_CALL_ARGUMENTS]) == {"city": "Paris"}
    assert tool["attributes"][A.GEN_AI_TOOL_CALL_RESULT] == "14C and light rain in Paris"
    chats = [s for s in spans if s["name"] == "chat gpt-4o-mini"]
    assert any(
        "Weather in Paris?" in s["attributes"].get(A.GEN_AI_INPUT_MESSAGES, "") for s in chats
    )


def test_uninstrument_removes_the_handlers(fanout, sqlite_recording):
    from llama_index.core.instrumentation import get_dispatcher

    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument(tracer_provider=trace.get_tracer_provider())
    handlers = instrumentor._handlers
    instrumentor.uninstrument()
    dispatcher = get_dispatcher()
    assert handlers[0] not in dispatcher.span_handlers
    assert handlers[1] not in dispatcher.event_handlers
    NotesRetriever().retrieve("anything")
    with sqlite_recording.open() as store:
        assert store.spans() == []


def test_example_runs_offline_and_shows_one_run(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "llama_index_agent.py"
    env = {**os.environ, "COLUMNS": "200", "AGENTEL_STORE": "sqlite:///example.db"}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)

    def run(*args: str) -> str:
        out = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert run(sys.executable, str(example), "Weather in Paris?").strip() == (
        "In Paris it is 14C, light rain."
    )
    cli = [sys.executable, "-m", "agentel.cli.main"]
    (only,) = json.loads(run(*cli, "runs", "--format", "json"))
    assert (only["agent_name"], only["llm_calls"], only["tool_calls"]) == ("weather", 2, 1)
    lines = run(*cli, "show", only["run_id"][:8]).rstrip("\n").splitlines()[1:]
    skeleton = [re.sub(r"  \d[\dµm.]*s\b.*$", "", line) for line in lines]
    assert skeleton == [
        "└── invoke_agent weather",
        "    ├── chat gpt-4o-mini",
        "    │   └── chat gpt-4o-mini",
        "    ├── execute_tool get_weather",
        "    └── chat gpt-4o-mini",
        "        └── chat gpt-4o-mini",
    ]
