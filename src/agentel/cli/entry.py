"""The ``agentel`` console script. ``agentel ui`` runs its command directly, so its page
answers before the query commands (rich, the store's query layer) would have loaded; every
other command goes through :func:`agentel.cli.main.main`."""

from __future__ import annotations

import sys


def main() -> None:
    """Run ``agentel`` with ``sys.argv``."""
    if sys.argv[1:2] == ["ui"]:
        from agentel.cli._ui import ui

        ui.main(args=sys.argv[2:], prog_name="agentel ui")
        return
    from agentel.cli.main import main as everything

    everything()
