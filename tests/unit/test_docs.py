"""The docs' configuration table, command reference and metrics table are the ones the code
generates (`python -m tests.docs.generated` rewrites them)."""

from __future__ import annotations

from tests.docs.generated import CLI_REFERENCE, CONFIG_TABLE, METRICS_TABLE


def test_the_configuration_page_table_matches_settings() -> None:
    assert CONFIG_TABLE.shown() == CONFIG_TABLE.make(), "run `python -m tests.docs.generated`"


def test_the_command_line_page_reference_matches_the_commands() -> None:
    assert CLI_REFERENCE.shown() == CLI_REFERENCE.make(), "run `python -m tests.docs.generated`"


def test_the_metrics_page_table_matches_the_metrics() -> None:
    assert METRICS_TABLE.shown() == METRICS_TABLE.make(), "run `python -m tests.docs.generated`"
