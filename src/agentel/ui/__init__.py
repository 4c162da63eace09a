"""``agentel ui``: a local web app over any agentel store (needs the ``ui`` extra).

:func:`create_app` builds the Starlette application: the pages, the JSON API under
``/api/`` (the same field names as ``--format json`` and :mod:`agentel.store`), and the
security rules (token, Content-Security-Policy, CSRF on the one write). :func:`serve` runs it
with uvicorn.
"""

from __future__ import annotations

from agentel.ui.app import UIConfig, create_app
from agentel.ui.server import serve

__all__ = ["UIConfig", "create_app", "serve"]
