"""Instrumentation settings, resolved once when an instrumentor is switched on."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from agentel.semconv.attributes import ENV_MAX_CONTENT_CHARS
from agentel.semconv.content_mode import mode_from_env

DEFAULT_MAX_CONTENT_CHARS = 16_384

Redactor = Callable[[str], str]
"""A redaction hook: gets every captured text (message text, tool arguments and results,
system instructions) and returns what may be recorded instead."""

# Set by agentel.sdk.configure(redact=...): the redactor instrumentors and the manual API use
# when none is passed to them directly.
_default_redact: Redactor | None = None


def set_default_redactor(redact: Redactor | None) -> None:
    """Install the process-wide redaction hook (``configure(redact=...)`` calls this)."""
    global _default_redact, _default_config
    _default_redact = redact
    _default_config = None


def _env_mode() -> tuple[bool, bool]:
    return mode_from_env()


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
    ``content_on_span`` / ``content_on_event`` say where captured content goes (span
    attributes and/or one ``gen_ai.client.inference.operation.details`` span event);
    ``max_content_chars`` caps each captured value; ``redact`` rewrites every captured text.
    """

    capture_content: bool = False
    max_content_chars: int = DEFAULT_MAX_CONTENT_CHARS
    content_on_span: bool = True
    content_on_event: bool = False
    redact: Redactor | None = None

    @classmethod
    def resolve(
        cls,
        capture_content: bool | None = None,
        max_content_chars: int | None = None,
        redact: Redactor | None = None,
    ) -> InstrumentationConfig:
        """Explicit arguments win; otherwise read the environment (once, at instrument time).

        ``capture_content=True`` records content on the span; ``None`` follows
        ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true``, ``SPAN_ONLY``,
        ``EVENT_ONLY``, ``SPAN_AND_EVENT``). ``redact`` defaults to ``configure(redact=...)``.
        """
        if capture_content is None:
            on_span, on_event = _env_mode()
        else:
            on_span, on_event = bool(capture_content), False
        return cls(
            capture_content=on_span or on_event,
            max_content_chars=(
                _env_max_content_chars() if max_content_chars is None else max_content_chars
            ),
            content_on_span=on_span,
            content_on_event=on_event,
            redact=redact if redact is not None else _default_redact,
        )


_default_config: InstrumentationConfig | None = None


def default_config() -> InstrumentationConfig:
    """The settings the manual API uses: the environment plus ``configure(redact=...)``.

    Resolved on first use and again after :func:`set_default_config` /
    :func:`set_default_redactor`.
    """
    global _default_config
    config = _default_config
    if config is None:
        config = _default_config = InstrumentationConfig.resolve()
    return config


def set_default_config(config: InstrumentationConfig | None) -> None:
    """Override (or, with ``None``, re-read on next use) the manual API's settings."""
    global _default_config
    _default_config = config
