"""Instrumentation settings, resolved once when an instrumentor is switched on."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agentel.semconv.attributes import ENV_CAPTURE_CONTENT, ENV_MAX_CONTENT_CHARS

DEFAULT_MAX_CONTENT_CHARS = 16_384

# Values of OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT that opt in. Besides the classic
# booleans, the newer GenAI spec values (SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT) also opt in.
_TRUTHY = frozenset({"1", "true", "yes", "on", "span_only", "event_only", "span_and_event"})


def _env_capture_content() -> bool:
    return os.environ.get(ENV_CAPTURE_CONTENT, "").strip().lower() in _TRUTHY


def _env_max_content_chars() -> int:
    raw = os.environ.get(ENV_MAX_CONTENT_CHARS, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_CONTENT_CHARS
    return value if value > 0 else DEFAULT_MAX_CONTENT_CHARS


@dataclass(frozen=True)
class InstrumentationConfig:
    """What an instrumentor records beyond the always-on metadata.

    ``capture_content`` gates prompts, completions and tool arguments/results (opt-in);
    ``max_content_chars`` caps each captured value.
    """

    capture_content: bool = False
    max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS

    @classmethod
    def resolve(
        cls, capture_content: bool | None = None, max_content_chars: int | None = None
    ) -> InstrumentationConfig:
        """Explicit arguments win; otherwise read the environment (once, at instrument time)."""
        return cls(
            capture_content=_env_capture_content() if capture_content is None else capture_content,
            max_content_chars=(
                _env_max_content_chars() if max_content_chars is None else max_content_chars
            ),
        )
