"""The usage dicts CrewAI's LLM providers track, read into OpenTelemetry token counts.

The shapes are the ones CrewAI 1.x builds (``_extract_*_token_usage`` of its native providers,
Bedrock's Converse block, LiteLLM's OpenAI-shaped usage); input includes cache reads and
writes, output includes reasoning. The OpenAI shape is also checked end to end, through a
real crew, in tests/integrations/test_crewai.py.
"""

from __future__ import annotations

import pytest

from agentel.instrumentation.crewai._spans import usage_counts


def counts(i=None, o=None, read=None, write=None, reasoning=None) -> dict:
    return {
        "input_tokens": i,
        "output_tokens": o,
        "cache_read_tokens": read,
        "cache_write_tokens": write,
        "reasoning_tokens": reasoning,
    }


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {"prompt_tokens": 80, "completion_tokens": 8, "total_tokens": 88},
            counts(80, 8),
            id="openai",
        ),
        pytest.param(
            {
                "prompt_tokens": 100,
                "completion_tokens": 40,
                "cached_prompt_tokens": 60,
                "reasoning_tokens": 30,
            },
            counts(100, 40, read=60, reasoning=30),
            id="openai-cached-reasoning",
        ),
        pytest.param(  # CrewAI's Anthropic provider folds the cache into input_tokens
            {
                "input_tokens": 150,
                "output_tokens": 9,
                "cached_prompt_tokens": 100,
                "cache_creation_tokens": 20,
            },
            counts(150, 9, read=100, write=20),
            id="anthropic-native",
        ),
        pytest.param(  # the raw Anthropic block reports the cache beside input_tokens
            {"input_tokens": 30, "output_tokens": 9, "cache_read_input_tokens": 100},
            counts(130, 9, read=100),
            id="anthropic-raw",
        ),
        pytest.param(
            {
                "prompt_token_count": 70,
                "candidates_token_count": 5,
                "completion_tokens": 12,
                "cached_prompt_tokens": 0,
                "reasoning_tokens": 7,
            },
            counts(70, 12, read=0, reasoning=7),
            id="gemini",
        ),
        pytest.param(
            {"inputTokens": 30, "outputTokens": 4, "cacheReadInputTokens": 10},
            counts(40, 4, read=10),
            id="bedrock",
        ),
        pytest.param({"total_tokens": 0}, counts(), id="no-usage"),
    ],
)
def test_usage_counts(usage, expected):
    assert usage_counts(usage) == expected
