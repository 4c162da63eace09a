"""Warn once when a foreign GenAI instrumentation records content that agentel would not.

OpenLLMetry (``opentelemetry-instrumentation-openai`` and its siblings) and OpenInference
record prompts and answers by default. Under ``opentelemetry-instrument`` every installed
instrumentation is switched on, so their spans reach agentel's store with content even
though agentel's own capture is off. ``configure()`` and the zero-code configurator say so
once, naming the package and the settings that keep the content out.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger("agentel.sdk")

_TRACELOOP_GENAI = frozenset(
    {
        "openai", "anthropic", "langchain", "llamaindex", "bedrock", "cohere", "mistralai",
        "groq", "ollama", "vertexai", "google_generativeai", "together", "replicate",
        "transformers", "watsonx", "crewai", "haystack", "alephalpha", "sagemaker",
        "openai_agents", "mcp", "litellm",
    }
)  # fmt: skip
_warned = False


def _content_on(module: str) -> str | None:
    """The setting that turns content off, when ``module``'s instrumentation records it."""
    if module.startswith("openinference.instrumentation."):
        hidden = all(
            os.environ.get(v, "").strip().lower() == "true"
            for v in ("OPENINFERENCE_HIDE_INPUTS", "OPENINFERENCE_HIDE_OUTPUTS")
        )
        return None if hidden else "OPENINFERENCE_HIDE_INPUTS=true OPENINFERENCE_HIDE_OUTPUTS=true"
    parts = module.split(".")
    if (
        parts[:2] == ["opentelemetry", "instrumentation"]
        and parts[2:3]
        and (parts[2] in _TRACELOOP_GENAI)
    ):
        if os.environ.get("TRACELOOP_TRACE_CONTENT", "true").strip().lower() == "false":
            return None
        return "TRACELOOP_TRACE_CONTENT=false"
    return None


def _warn(found: list[tuple[str, str, str]]) -> None:
    global _warned
    if _warned or not found:
        return
    _warned = True
    listed = "; ".join(f"{dist} (entry point {name!r}; or {fix})" for name, dist, fix in found)
    names = ",".join(sorted({name for name, _, _ in found}))
    logger.warning(
        "agentel: content capture is off, but these GenAI instrumentations record prompts and "
        "answers into the same spans: %s. To keep content out of the store, set "
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=%s (agentel's own instrumentation stays on).",
        listed,
        names,
    )


def warn_if_zero_code_content(capture_content: bool) -> None:
    """Zero-code: warn about installed, not disabled foreign instrumentations with content on
    (``opentelemetry-instrument`` will switch each of them on)."""
    if capture_content:
        return
    disabled = {
        n.strip() for n in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    found = []
    for point in entry_points(group="opentelemetry_instrumentor"):
        if point.name in disabled:
            continue
        module = point.value.partition(":")[0]
        fix = _content_on(module)
        if fix:
            found.append((point.name, point.dist.name if point.dist else module, fix))
    _warn(found)


def warn_if_active_content(capture_content: bool) -> None:
    """``configure()``: warn about foreign instrumentations already switched on with content."""
    if capture_content:
        return
    found = []
    for point in entry_points(group="opentelemetry_instrumentor"):
        module, _, attribute = point.value.partition(":")
        fix = _content_on(module)
        if not fix or module not in sys.modules:
            continue
        instrumentor: Any = getattr(sys.modules[module], attribute, None)
        try:
            active = instrumentor is not None and instrumentor().is_instrumented_by_opentelemetry
        except Exception:
            active = False
        if active:
            found.append((point.name, point.dist.name if point.dist else module, fix))
    _warn(found)
