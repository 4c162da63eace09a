"""``agentel ui``: a local web app over any agentel store (needs the ``ui`` extra).

:func:`create_app` builds the Starlette application: the pages, the JSON API under
``/api/`` (the same field names as ``--format json`` and :mod:`agentel.store`), and the
security rules (token, Content-Security-Policy, CSRF on the one write). :func:`serve` runs it
with uvicorn. Importing this package is light: the application (Starlette, the store's query
layer) loads when :func:`create_app` is first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentel.ui.server import serve
from agentel.ui.shell import UIConfig

if TYPE_CHECKING:
    from agentel.ui.app import create_app

__all__ = ["UIConfig", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from agentel.ui.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
