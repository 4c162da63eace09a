"""A provider dialect is one registered WireFormat: the server routes to it with no other change."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from agentel.testing import Reply, ScriptedLLMServer, Usage, estimate_usage
from agentel.testing._wire import WIRE_FORMATS, Turn, WireFormat, register


def _parse(body: dict[str, Any]) -> Any:
    texts = [str(p.get("text", "")) for p in body.get("parts", [])]
    return texts, [("user", t) for t in texts], []


def _render(turn: Turn) -> dict[str, Any]:
    return {"said": turn.text, "stop": turn.finish_reason, "out": turn.usage.output_tokens}


@pytest.fixture
def toy_format() -> Iterator[WireFormat]:
    fmt = register(
        WireFormat(
            api="toy",
            routes=("/toy/generate",),
            parse=_parse,
            render=_render,
            render_stream=lambda turn: [(None, _render(turn))],
            error_body=lambda status, message, kind: {"toy_error": message, "status": status},
            finish_reasons={"stop": "DONE"},
            marker_header="x-toy",
        )
    )
    yield fmt
    del WIRE_FORMATS["toy"]


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", "x-toy": "1"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_registered_format_is_served_parsed_and_estimated(toy_format):
    body = {"parts": [{"text": "hello there"}]}
    with ScriptedLLMServer() as srv:
        srv.enqueue(Reply.text("hi", usage=Usage(input_tokens=3, output_tokens=2)))
        assert _post(srv.url + "/v1/toy/generate", body) == (
            200,
            {"said": "hi", "stop": "DONE", "out": 2},
        )
        # AUTO mode reads the request through the format's parser
        status, auto = _post(srv.url + "/toy/generate", body)
        assert status == 200
        assert auto["said"] == "You said: hello there"
        assert auto["out"] == estimate_usage("toy", body, text=auto["said"]).output_tokens
        srv.enqueue(Reply.error(429, "slow down"))
        assert _post(srv.url + "/toy/generate", body) == (
            429,
            {"toy_error": "slow down", "status": 429},
        )
        # the marker header picks the dialect of a 404
        assert _post(srv.url + "/toy/nowhere", body)[1]["status"] == 404
