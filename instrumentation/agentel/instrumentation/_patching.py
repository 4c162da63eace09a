"""Patch and restore SDK methods for an instrumentor (wrapt 1.x and 2.x alike)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ._common import logger
from ._config import InstrumentationConfig
from ._metrics import GenAIMetrics
from .version import __version__

Patch = tuple[str, str, Callable[..., Any]]
"""(module, "Class.method" or "function", wrapt wrapper)."""


def _owner(module_name: str, path: str) -> tuple[Any, str]:
    owner_path, _, attr = path.rpartition(".")
    owner: Any = importlib.import_module(module_name)
    for part in owner_path.split(".") if owner_path else ():  # "" : a module-level function
        owner = getattr(owner, part)
    return owner, attr


def apply(patches: Iterable[Patch]) -> list[tuple[str, str]]:
    """Wrap every target that exists in the installed SDK; returns those wrapped.

    Targets a given SDK version lacks are skipped (logged at DEBUG), so one instrumentor
    covers a range of SDK versions.
    """
    done: list[tuple[str, str]] = []
    for module_name, path, wrapper in patches:
        try:
            owner, attr = _owner(module_name, path)
            if not callable(getattr(owner, attr, None)):
                raise AttributeError(attr)
        except (ImportError, AttributeError):
            logger.debug("agentel: %s.%s not found; not instrumented", module_name, path)
            continue
        # positional arguments: the keyword names differ between wrapt 1.x and 2.x
        wrap_function_wrapper(owner, attr, wrapper)
        done.append((module_name, path))
    return done


def restore(patched: Iterable[tuple[str, str]]) -> None:
    """Put the original methods back."""
    for module_name, path in patched:
        owner, attr = _owner(module_name, path)
        unwrap(owner, attr)


class ProviderInstrumentor(BaseInstrumentor):
    """What the provider SDK instrumentors share.

    ``instrument(tracer_provider=None, meter_provider=None, capture_content=None,
    redact=None, ...)`` resolves the settings once (``capture_content`` defaults to
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``), makes the tracer and the metric
    instruments, and applies the patches the subclass builds in :meth:`_patches`;
    ``uninstrument()`` restores them. A subclass names its SDK in ``_instruments``.
    """

    _instruments: tuple[str, ...] = ()
    _config: InstrumentationConfig | None = None
    _patched: list[tuple[str, str]]

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._instruments

    @property
    def config(self) -> InstrumentationConfig | None:
        """The settings resolved by the last ``instrument()`` call (``None`` before)."""
        return self._config

    def _instrument(self, **kwargs: Any) -> None:
        config = InstrumentationConfig.resolve(
            capture_content=kwargs.get("capture_content"), redact=kwargs.get("redact")
        )
        self._config = config
        tracer = trace.get_tracer(
            type(self).__module__, __version__, tracer_provider=kwargs.get("tracer_provider")
        )
        metrics = GenAIMetrics(kwargs.get("meter_provider"))
        self._patched = apply(self._patches(config, tracer, metrics, kwargs))

    def _patches(
        self,
        config: InstrumentationConfig,
        tracer: trace.Tracer,
        metrics: GenAIMetrics,
        options: Mapping[str, Any],
    ) -> list[Patch]:
        """The SDK methods to wrap, with their wrappers (``options``: ``instrument()``'s)."""
        raise NotImplementedError

    def _uninstrument(self, **kwargs: Any) -> None:
        restore(getattr(self, "_patched", ()))
        self._patched = []
