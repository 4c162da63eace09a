"""docs/cli.md is generated from --help and must not go stale."""

from __future__ import annotations

from pathlib import Path

from agentel.cli.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_md_is_up_to_date():
    assert DOC.read_text() == render(), (
        "docs/cli.md is stale: run `python -m agentel.cli.docs > docs/cli.md`"
    )


def test_every_command_and_the_exit_codes_are_documented():
    text = render()
    for command in ("runs", "show", "replay", "stats", "export", "import", "prune", "feedback"):
        assert f"## agentel {command}\n" in text
    assert "Exit status:" in text and "prune refused without --yes" in text
