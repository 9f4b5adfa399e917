"""The help a newcomer reads: a command's docstring, written over several source lines, is one
paragraph wrapped to the terminal, not broken where the source lines end."""

from __future__ import annotations

import inspect
import itertools
import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from remem.cli import app


def _commands() -> list[tuple[list[str], Any]]:
    """Every command and group below ``remem``, with the arguments that name it (typer's own
    click commands)."""
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    walk([], typer.main.get_command(app))
    return found


COMMANDS = _commands()
GROUPS = [(path, command) for path, command in COMMANDS if getattr(command, "commands", None)]


def _printed(path: list[str]) -> list[str]:
    """``remem <path> --help`` at 200 columns: its lines, without box drawing or backticks."""
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = re.sub(r"[│╭╮╰╯─]", " ", result.output).replace("`", "").splitlines()
    return [" ".join(line.split()) for line in lines]


def _broken(printed: list[str], pair: str) -> bool:
    """Whether the help ends a short line (under 150 of its 200 columns) between the two
    words of ``pair``: a break the source's line made, not the terminal's width."""
    last, first = pair.split(" ")
    return any(
        line.endswith(last) and following.startswith(first) and len(line) < 150
        for line, following in itertools.pairwise(printed)
    )


def _line_breaks(text: str) -> list[str]:
    """The word pairs a source line break separates inside a paragraph of ``text``."""
    pairs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        for before, after in itertools.pairwise(paragraph.splitlines()):
            pairs.append(f"{before.split()[-1]} {after.split()[0]}".replace("`", ""))
    return pairs


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "remem" for p, _ in COMMANDS]
)
def test_a_command_s_help_is_wrapped_as_one_paragraph(path: list[str], command: Any) -> None:
    printed = _printed(path)
    for pair in _line_breaks(command.help or ""):
        assert not _broken(printed, pair), (path, pair)


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=[" ".join(p) or "remem" for p, _ in GROUPS])
def test_a_group_lists_its_commands_in_wrapped_sentences(path: list[str], group: Any) -> None:
    """The list of commands shows each one's first paragraph as one wrapped sentence (typer's
    "rich" mode broke it where the docstring's lines end, and again at the panel's edge)."""
    printed = _printed(path)
    for name, command in group.commands.items():
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        for pair in _line_breaks(first):
            assert not _broken(printed, pair), (path, name, pair)
