"""Where captured content goes, read from ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.

Lives in the lowest layer because both the producers (instrumentation) and the exporters'
privacy filter read it, and neither may import the other.
"""

from __future__ import annotations

import os

from agentel.semconv.attributes import ENV_CAPTURE_CONTENT

# value -> (on the span, as an event). The classic booleans mean "on the span"; the GenAI
# spec values choose the destination. Anything else (unset, "false") means off.
MODES: dict[str, tuple[bool, bool]] = {
    "1": (True, False),
    "true": (True, False),
    "yes": (True, False),
    "on": (True, False),
    "span_only": (True, False),
    "event_only": (False, True),
    "span_and_event": (True, True),
}


def mode_from_env() -> tuple[bool, bool]:
    """(content on spans, content as an event) as the environment variable says."""
    return MODES.get(os.environ.get(ENV_CAPTURE_CONTENT, "").strip().lower(), (False, False))
