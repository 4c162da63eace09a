"""Re-running a recorded run: match each request to a recorded call by content, serve its answer.

Each request the agent makes is read the way agentel's instrumentation records one (same
parts-based messages, tool definitions and parameters, same redaction), so it compares with
the recorded calls field by field. The earliest unserved call that matches exactly answers;
order only breaks ties between identical requests. The answer is rendered in the wire format
of the request (OpenAI chat or Responses, Anthropic messages, Gemini generateContent,
Bedrock Converse and InvokeModel), streamed when the request streams, whichever way the call
was recorded.

``strict`` (the default): a request that matches no unserved recorded call gets an HTTP 400
naming the call and the first differing field, the replay is marked failed, and every later
request gets the same 400. ``loose``:
the nearest recorded call answers and every divergence is kept for the report.

A recorded text containing a redaction marker (``[REDACTED]``, ``<redacted>``, ``****``)
matches any text in that place, so redaction never breaks matching; a ``redact`` function
given to the replay is applied to the request first, as it was at recording time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from agentel.instrumentation._config import InstrumentationConfig
from agentel.instrumentation._content import encode
from agentel.semconv import attributes as A

from ._cassette import Cassette, CassetteError, RecordedCall, _request_params
from ._script import Reply
from ._server import ScriptedLLMServer

Redactor = Callable[[str], str]

_MARKER = re.compile(
    r"\[[^\[\]\n]*redacted[^\[\]\n]*\]|<[^<>\n]*redacted[^<>\n]*>|\*{4,}|redacted",
    re.IGNORECASE,
)


def _same_text(recorded: str, got: str) -> bool:
    """Equal, or equal once each redaction marker in the recorded text stands for any text."""
    if recorded == got:
        return True
    if not _MARKER.search(recorded):
        return False
    pieces = _MARKER.split(recorded)
    pattern = ".+?".join(re.escape(piece) for piece in pieces)
    return re.fullmatch(pattern, got, re.DOTALL) is not None


def differences(recorded: Any, got: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every place two JSON values differ: (path such as ``messages[4].parts[0].content``,
    recorded value, requested value); redaction markers in recorded texts match anything."""
    if isinstance(recorded, str) and isinstance(got, str):
        return [] if _same_text(recorded, got) else [(path, recorded, got)]
    if isinstance(recorded, Mapping) and isinstance(got, Mapping):
        found: list[tuple[str, Any, Any]] = []
        for key in dict.fromkeys([*recorded, *got]):
            found += differences(
                recorded.get(key), got.get(key), f"{path}.{key}" if path else str(key)
            )
        return found
    if isinstance(recorded, list) and isinstance(got, list):
        found = []
        for i, (a, b) in enumerate(zip(recorded, got, strict=False)):
            found += differences(a, b, f"{path}[{i}]")
        if len(recorded) != len(got):
            found.append((f"{path} length", len(recorded), len(got)))
        return found
    return [] if recorded == got else [(path, recorded, got)]


_API_READERS: dict[str, Callable[..., Any]] = {}


def _gemini_request(config: InstrumentationConfig, instance: Any, args: tuple, body: Any) -> Any:
    """A Gemini REST body read as the google-genai call that sent it (``config`` holds the
    generation parameters, system instruction and tools, which the reader takes in either
    spelling)."""
    from agentel.instrumentation.google_genai._models import content_request

    options = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools"):
        if body.get(key) is not None:
            options[key] = body[key]
    call = {"model": body.get("model"), "contents": body.get("contents"), "config": options}
    return content_request(config, instance, call, stream=False)


_BEDROCK_CLIENT = SimpleNamespace(
    meta=SimpleNamespace(
        service_model=SimpleNamespace(service_name="bedrock-runtime"), endpoint_url=None
    )
)


def _bedrock_request(operation: str) -> Callable[..., Any]:
    """A Bedrock runtime REST body read as the botocore call that sent it (the model id is
    in the request path; the server passes it as ``model``)."""
    from agentel.instrumentation.bedrock._runtime import bedrock_request

    def read(config: InstrumentationConfig, instance: Any, args: tuple, body: Any) -> Any:
        fields = {key: value for key, value in body.items() if key != "model"}
        if operation == "InvokeModel":
            fields = {"body": json.dumps(fields)}
        params = {"modelId": body.get("model"), **fields}
        return bedrock_request(config, _BEDROCK_CLIENT, (operation, params), {})

    return read


def _reader(api: str) -> Callable[..., Any] | None:
    """The instrumentation's request reader for a wire format (imported on first use)."""
    if not _API_READERS:
        from agentel.instrumentation.anthropic._messages import messages_request
        from agentel.instrumentation.openai._chat import chat_request
        from agentel.instrumentation.openai._responses import responses_request

        _API_READERS.update(
            chat=chat_request,
            responses=responses_request,
            anthropic=messages_request,
            gemini=_gemini_request,
            bedrock_converse=_bedrock_request("Converse"),
            bedrock_invoke=_bedrock_request("InvokeModel"),
        )
    return _API_READERS.get(api)


def request_view(api: str, body: Mapping[str, Any], redact: Redactor | None = None) -> dict:
    """A request body as agentel records it: what :class:`RecordedCall` requests hold."""
    reader = _reader(api)
    if reader is None:
        raise CassetteError(f"cannot replay {api} requests")
    config = InstrumentationConfig(capture_content=True, max_content_chars=2**62, redact=redact)
    request = reader(config, None, (), body)
    content = request.content or {}

    def captured(key: str) -> Any:
        text = encode(content.get(key), config)
        return None if text is None else json.loads(text)

    attributes = json.loads(json.dumps(dict(request.attributes), default=str))
    return {
        "model": request.model,
        "system": captured(A.GEN_AI_SYSTEM_INSTRUCTIONS),
        "messages": captured(A.GEN_AI_INPUT_MESSAGES),
        "tools": captured(A.GEN_AI_TOOL_DEFINITIONS),
        "params": _request_params(attributes),
    }


def _quote(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Divergence:
    """A request that matched no unserved recorded call exactly."""

    call: int
    """1-based number of the request among the replayed run's LLM calls."""
    nearest: RecordedCall | None
    differences: list[tuple[str, Any, Any]]

    def message(self) -> str:
        """``call 3: messages[0].parts[0].content differs: "…" (recorded call 3) vs "…"``."""
        if self.nearest is None:
            return f"call {self.call}: no recorded call left to answer it (all were served)"
        if not self.differences:
            return (
                f"call {self.call}: same request as recorded call {self.nearest.index}, "
                "which was already served (the run made this request more often)"
            )
        path, recorded, got = self.differences[0]
        more = len(self.differences) - 1
        return (
            f"call {self.call}: {path} differs: {_quote(recorded)} (recorded call "
            f"{self.nearest.index}, {self.nearest.label()}) vs {_quote(got)}"
            + (f" (and {more} more difference{'s' * (more > 1)})" if more else "")
        )


class Matcher:
    """Pairs requests with recorded calls; thread-safe (the server answers concurrently)."""

    def __init__(self, cassette: Cassette, *, strict: bool = True, redact: Redactor | None = None):
        self.cassette = cassette
        self.strict = strict
        self.redact = redact
        self.served: list[RecordedCall] = []
        self.divergences: list[Divergence] = []
        self.failure: Divergence | None = None
        self._unserved = list(cassette.calls)
        self._requests = 0
        self._lock = threading.Lock()

    @property
    def unserved(self) -> list[RecordedCall]:
        """Recorded calls no request has asked for (yet)."""
        with self._lock:
            return list(self._unserved)

    def answer(self, api: str, body: Mapping[str, Any]) -> Reply:
        """The reply for one request, or (strict, no match) an HTTP 400 naming the difference."""
        view = request_view(api, body, self.redact)
        with self._lock:
            self._requests += 1
            number = self._requests
            if self.strict and self.failure is not None:
                return Reply.error(
                    400,
                    f"agentel replay: stopped at an earlier request: {self.failure.message()}",
                    headers={"x-should-retry": "false"},
                )
            scored = [(call, _diff_request(call.request, view)) for call in self._unserved]
            exact = next((call for call, found in scored if not found), None)
            if exact is not None:
                self._unserved.remove(exact)
                self.served.append(exact)
                return exact.reply()
            divergence = self._nearest(number, scored, view)
            self.divergences.append(divergence)
            if self.strict:
                if self.failure is None:
                    self.failure = divergence
                return Reply.error(
                    400,
                    "agentel replay: " + divergence.message(),
                    headers={"x-should-retry": "false"},
                )
            if divergence.nearest is None:
                return Reply.error(
                    400,
                    "agentel replay: " + divergence.message(),
                    headers={"x-should-retry": "false"},
                )
            if divergence.nearest in self._unserved:
                self._unserved.remove(divergence.nearest)
            self.served.append(divergence.nearest)
            return divergence.nearest.reply()

    def _nearest(
        self,
        number: int,
        scored: list[tuple[RecordedCall, list[tuple[str, Any, Any]]]],
        view: dict[str, Any],
    ) -> Divergence:
        if scored:
            call, found = min(scored, key=lambda item: len(item[1]))  # ties: earliest
            return Divergence(number, call, found)
        for call in self.cassette.calls:  # all served: an identical request came too often
            found = _diff_request(call.request, view)
            if not found:
                return Divergence(number, call, [])
        return Divergence(number, None, [])

    def report(self) -> list[str]:
        """One line per divergence, and one for recorded calls never asked for."""
        lines = [d.message() for d in self.divergences]
        left = self.unserved
        if left:
            lines.append(
                f"{len(left)} recorded call{'s' * (len(left) > 1)} never requested: "
                + ", ".join(str(c.index) for c in left)
            )
        return lines


def _diff_request(
    recorded: Mapping[str, Any], got: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    for key in ("model", "system", "messages", "tools", "params"):
        found += differences(recorded.get(key), got.get(key), key)
    return found


class ReplayServer(ScriptedLLMServer):
    """The scripted server answering from a :class:`Matcher` instead of a queue."""

    def __init__(self, matcher: Matcher, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(auto=False, host=host, port=port, responder=matcher.answer)
        self.matcher = matcher


class ReplayMismatch(AssertionError):
    """A strict replay met a request that matches no recorded call."""


@dataclass
class Replay:
    """A running replay: where it listens, what it served, how it diverged."""

    server: ReplayServer
    matcher: Matcher
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def openai_base_url(self) -> str:
        return self.server.openai_base_url

    @property
    def anthropic_base_url(self) -> str:
        return self.server.anthropic_base_url

    @property
    def served(self) -> list[RecordedCall]:
        return self.matcher.served

    @property
    def divergences(self) -> list[Divergence]:
        return self.matcher.divergences

    @property
    def unserved(self) -> list[RecordedCall]:
        return self.matcher.unserved


def load_cassette(source: Any, store: Any = None) -> Cassette:
    """A cassette from a :class:`Cassette`, a cassette file path, or a run id (in ``store``,
    a store URL or a Store; default ``$AGENTEL_STORE``)."""
    if isinstance(source, Cassette):
        return source
    path = Path(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None
    if path is not None and (path.suffix == ".json" or path.is_file()):
        return Cassette.load(path)
    from agentel.store import default_store_url, open_store

    if store is None or isinstance(store, str):
        with open_store(store or default_store_url()) as opened:
            return Cassette.from_store(opened, str(source))
    return Cassette.from_store(store, str(source))


def replay_environment(server: ScriptedLLMServer) -> dict[str, str]:
    """The variables that point the standard SDKs at ``server`` (placeholder keys if unset)."""
    env = {
        "OPENAI_BASE_URL": server.openai_base_url,
        "ANTHROPIC_BASE_URL": server.anthropic_base_url,
        "GOOGLE_GEMINI_BASE_URL": server.url,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.url,
    }
    for key in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ):
        if not os.environ.get(key):
            env[key] = "agentel-replay"
    if not os.environ.get("AWS_DEFAULT_REGION") and not os.environ.get("AWS_REGION"):
        env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


@contextlib.contextmanager
def replay(
    run_or_cassette: Any,
    *,
    store: Any = None,
    strict: bool = True,
    redact: Redactor | None = None,
    port: int = 0,
    set_env: bool = True,
) -> Iterator[Replay]:
    """Serve a recorded run's LLM answers in-process while the block runs.

    ``run_or_cassette``: a run id (or prefix) in ``store`` (a URL or Store; default
    ``$AGENTEL_STORE``), a cassette file (``agentel cassette export``) or a
    :class:`Cassette`. With ``set_env`` the standard SDK variables (``OPENAI_BASE_URL``,
    ``ANTHROPIC_BASE_URL``, placeholder API keys when unset) point at the server inside
    the block, so clients created there need no change; the handle also gives the URLs.
    ``strict`` (default): a request matching no recorded call is answered with HTTP 400
    and the block raises :class:`ReplayMismatch` naming the call and field when it ends.
    ``redact``: the function the run was recorded with, applied to requests too. A run
    recorded without content capture raises :class:`CassetteError` saying how to record one.
    """
    cassette = load_cassette(run_or_cassette, store)
    matcher = Matcher(cassette, strict=strict, redact=redact)
    server = ReplayServer(matcher, port=port)
    with server:
        env = replay_environment(server)
        saved = {key: os.environ.get(key) for key in env} if set_env else {}
        if set_env:
            os.environ.update(env)
        try:
            yield Replay(server, matcher, env)
        except Exception as exc:
            if matcher.failure is not None:
                raise ReplayMismatch(matcher.failure.message()) from exc
            raise
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    if matcher.failure is not None:
        raise ReplayMismatch(matcher.failure.message())
