"""Nothing leaks: no SQL or MongoDB operator from user strings, private store files, no
credentials recorded, content off by default, redaction before anything leaves the process."""

from __future__ import annotations

import ast
import http.server
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from agentel.exporters.processor import LiveRunSpanProcessor, RunIdSpanProcessor
from agentel.exporters.sqlite import SQLiteSpanExporter
from agentel.store import StoreError, open_store
from agentel.store.sqlite import SQLiteStore
from tests.faults.conftest import run_child
from tests.store.store_helpers import agent_run

STORE_DIR = Path(__file__).resolve().parents[2] / "src" / "agentel" / "store"
HOSTILE = [
    "x' OR '1'='1",
    "'; DROP TABLE runs; --",
    '" OR 1=1 --',
    "abc) UNION SELECT * FROM sqlite_master --",
    "$where",
    '{"$gt": ""}',
    "$ne",
    "this.status == 'ok' || sleep(1000)",
    "\x00nul",
    "%s%s%s",
    "{0}{1}",
]


# --- SQL ---------------------------------------------------------------------------------------
def _public_methods(tree: ast.Module) -> Iterator[ast.FunctionDef]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                    yield item


def test_no_public_store_method_formats_its_arguments_into_strings():
    """A query method's arguments may be bound parameters, never text spliced into SQL."""
    problems = []
    for path in sorted(STORE_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Mod)
                and isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
            ):
                problems.append(f"{path.name}:{node.lineno}: %-formatting")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "format"
                and isinstance(node.value, ast.Constant)
            ):
                problems.append(f"{path.name}:{node.lineno}: str.format")
        if ".execute" not in path.read_text():
            continue  # no SQL here (MongoDB filters are checked below, by what is sent)
        for method in _public_methods(tree):
            params = {a.arg for a in method.args.args + method.args.kwonlyargs} - {"self"}
            for node in ast.walk(method):
                spliced = []
                if isinstance(node, ast.JoinedStr):
                    spliced = [v.value for v in node.values if isinstance(v, ast.FormattedValue)]
                elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                    spliced = [node.left, node.right]
                for expr in spliced:
                    if isinstance(expr, ast.Name) and expr.id in params:
                        problems.append(f"{path.name}:{node.lineno}: {method.name}({expr.id})")
    assert not problems, "user input spliced into strings in the store:\n" + "\n".join(problems)


class RecordingConnection:
    """The real sqlite3 connection, noting the SQL text of every statement it runs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return self._conn.executemany(sql, *args)

    def executescript(self, sql: str) -> Any:
        self.statements.append(sql)
        return self._conn.executescript(sql)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _hostile_calls(store) -> None:
    """Every query and write of the store API, fed hostile strings."""
    for text in HOSTILE:
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": text, text: text}
        records = agent_run("e", trace_id="ef" * 16)
        records[0].attributes.update(attrs)
        records[0].name = text
        records[0].agent_name = text
        store.ingest(records)
        assert store.runs(agent=text, status=text) == []
        store.runs(agent=text)
        for call in (store.run, store.resolve_trace_id, store.trace):
            with pytest.raises(StoreError):
                call(text)
        store.spans(trace_id=text, run_id=text)
        with pytest.raises((StoreError, ValueError)):
            store.add_feedback(text, 1.0, text, label=text)
        store.add_feedback("efef", 0.5, text, label=text)  # a prefix of trace id + root span id
        with pytest.raises(ValueError):
            store.runs(order_by=text)


def test_hostile_strings_reach_sqlite_only_as_bound_parameters(tmp_path):
    store = SQLiteStore(str(tmp_path / "hostile.db"))
    recorder = RecordingConnection(store.conn)
    store._conn = recorder  # the store keeps using the real connection through it
    _hostile_calls(store)
    assert len(recorder.statements) > 50
    for sql in recorder.statements:
        for text in HOSTILE:
            assert text not in sql, f"{text!r} reached the SQL text: {sql}"
    (run,) = store.runs()
    assert run["agent_name"] == HOSTILE[-1]  # stored verbatim, as data
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert {"spans", "runs", "feedback"} <= tables
    store.close()


# --- MongoDB -----------------------------------------------------------------------------------
class Commands(pymongo.monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event) -> None:
        return None

    def failed(self, event) -> None:
        return None


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_hostile_strings_never_become_mongodb_operators(mongodb_url):
    commands = Commands()
    pymongo.monitoring.register(commands)  # applies to clients created from now on
    store = open_store(mongodb_url)
    _hostile_calls(store)
    store.close()
    operators = {k for command in commands.sent for k in _keys(command) if k.startswith("$")}
    assert operators, "no query was observed"
    assert not operators & set(HOSTILE), operators
    ours = {"$in", "$gte", "$lt", "$set", "$inc", "$match", "$group", "$sort", "$limit", "$db"}
    ours |= {"$readPreference", "$clusterTime", "$lsid", "$eq", "$nin", "$and", "$or", "$nor"}
    # the schema migration's constant id pattern; content search passes re.escape'd text only
    ours |= {"$regex", "$options"}
    assert operators <= ours, operators - ours


# --- files -------------------------------------------------------------------------------------
def test_store_files_including_wal_and_shm_are_private(tmp_path):
    previous = os.umask(0o022)  # the usual umask would make new files world-readable
    try:
        url = f"sqlite:///{tmp_path / 'private' / 'agentel.db'}"
        exporter = SQLiteSpanExporter(url)
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(RunIdSpanProcessor())
        provider.add_span_processor(LiveRunSpanProcessor(exporter))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("faults").start_as_current_span(
            "invoke_agent a", attributes={"gen_ai.operation.name": "invoke_agent"}
        ):
            pass
        files = sorted((tmp_path / "private").iterdir())  # while the store is open
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        provider.shutdown()
    finally:
        os.umask(previous)
    assert set(modes) == {"agentel.db", "agentel.db-wal", "agentel.db-shm"}
    assert set(modes.values()) == {0o600}, {k: oct(v) for k, v in modes.items()}


# --- credentials, content capture and redaction ------------------------------------------------
class OTLPSink(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP endpoint that keeps the raw request bodies it is sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def otlp_sink() -> Iterator[OTLPSink]:
    sink = OTLPSink()
    yield sink
    sink.shutdown()
    sink.server_close()


SECRETS = [f"SECRET-{n:04d}" for n in range(1, 7)]
CALLER = """
import sys
import anthropic, openai
import agentel.sdk
from agentel.testing import ScriptedLLMServer

url, otlp, redact = sys.argv[1], sys.argv[2], sys.argv[3] == "redact"
handle = agentel.sdk.configure(
    url, otlp=otlp, service_name="leaky",
    redact=(lambda text: text.replace("CANARY", "[REDACTED]")) if redact else None,
)
with ScriptedLLMServer() as server:
    host = server.openai_base_url.split("//", 1)[1]
    client = openai.OpenAI(
        base_url=f"http://user:SECRET-0004@{host}",
        api_key="sk-SECRET-0001",
        default_headers={"Authorization": "Bearer SECRET-0002", "X-Api-Key": "SECRET-0003"},
        max_retries=0,
    )
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Tell CANARY a joke"}]
    )
    claude = anthropic.Anthropic(
        base_url=server.anthropic_base_url, api_key="SECRET-0005",
        default_headers={"x-api-key": "SECRET-0006"}, max_retries=0,
    )
    claude.messages.create(
        model="claude-3-5-haiku-latest", max_tokens=50,
        messages=[{"role": "user", "content": "Tell CANARY a story"}],
    )
handle.shutdown()
"""


def _everything_recorded(tmp_path: Path, sink: OTLPSink) -> tuple[bytes, bytes]:
    store_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))
    return store_bytes, b"".join(sink.bodies)


@pytest.mark.parametrize("capture", ["on", "default", "redacted"])
def test_no_credentials_content_only_on_opt_in_and_redacted_before_leaving(
    tmp_path, otlp_sink: OTLPSink, capture: str
):
    env = (
        {}
        if capture == "default"
        else {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    )
    mode = "redact" if capture == "redacted" else "plain"
    run_child(tmp_path, CALLER, "sqlite:///calls.db", otlp_sink.endpoint, mode, **env)
    with open_store(f"sqlite:///{tmp_path / 'calls.db'}") as store:
        spans = [s for r in store.runs() for s in store.spans(run_id=r["run_id"])]
    assert {s["provider"] for s in spans if s["counted"]} == {"openai", "anthropic"}
    stored, sent = _everything_recorded(tmp_path, otlp_sink)
    assert sent, "nothing reached the OTLP endpoint"
    for where, data in (("the store", stored), ("the OTLP export", sent)):
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret} leaked into {where}"
        assert b"Bearer" not in data and b"sk-" not in data, where
        if capture == "on":
            assert b"CANARY" in data, f"content capture is on but {where} has no content"
        elif capture == "default":
            assert b"CANARY" not in data and b"joke" not in data, f"content leaked into {where}"
        else:
            assert b"CANARY" not in data, f"unredacted content in {where}"
            assert b"[REDACTED]" in data, f"no redacted content in {where}"
    assert json.dumps(spans)  # and the recorded spans read back as JSON
