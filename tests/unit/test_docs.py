"""The README's configuration table is the one the code generates."""

from __future__ import annotations

from pathlib import Path

from remem.config import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_table_matches_settings() -> None:
    text = README.read_text()
    start = text.index("<!-- config-table:start -->\n") + len("<!-- config-table:start -->\n")
    end = text.index("<!-- config-table:end -->")
    assert text[start:end].strip() == settings_table(), "run `remem config` and paste the table"


def test_readme_command_reference_matches_the_commands() -> None:
    from remem.cli.reference import markdown

    text = README.read_text()
    start = text.index("<!-- cli-reference:start -->\n") + len("<!-- cli-reference:start -->\n")
    end = text.index("<!-- cli-reference:end -->")
    assert text[start:end].strip() == markdown(), "run `python -m remem.cli.reference`"
