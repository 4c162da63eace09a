"""A cassette checked into the repository (``agentel cassette export`` of a weather-agent run)
replays under pytest through the ``agentel_replay`` fixture: no server of the test's own, no
network, the real agent code and the real openai SDK."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlsplit

import openai
import pytest

from agentel.testing import ReplayMismatch, replay

HERE = Path(__file__).resolve().parent
CASSETTE = HERE / "cassettes" / "weather_paris.json"


def _weather():
    path = HERE.parents[1] / "examples" / "weather_agent.py"
    spec = importlib.util.spec_from_file_location("weather_from_cassette", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WEATHER = _weather()


def test_a_checked_in_cassette_replays_with_no_server_and_no_network(agentel_replay):
    served = agentel_replay(str(CASSETTE))
    assert urlsplit(os.environ["OPENAI_BASE_URL"]).hostname == "127.0.0.1"
    client = openai.OpenAI(max_retries=0)
    answer = WEATHER.run_agent(client, "What's the weather in Paris?")
    assert answer == 'Here is what I found: {"city": "Paris", "temp_c": 14, "sky": "light rain"}'
    assert [call.index for call in served.served] == [1, 2]
    assert served.divergences == [] and served.unserved == []


def test_the_environment_is_restored_after_a_replay(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with replay(CASSETTE) as served:
        assert os.environ["OPENAI_BASE_URL"] == served.openai_base_url
    assert os.environ["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1"


def test_a_changed_question_fails_the_cassette_replay():
    differs = r"call 1: messages\[1\]\.parts\[0\]\.content differs"
    with pytest.raises(ReplayMismatch, match=differs), replay(CASSETTE):
        WEATHER.run_agent(openai.OpenAI(max_retries=0), "What's the weather in Rome?")
