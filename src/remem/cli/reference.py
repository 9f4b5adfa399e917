"""The README's command reference, generated from the commands themselves (a test keeps the
README in step, as it does the configuration table): ``python -m remem.cli.reference``."""

from __future__ import annotations

import re
from typing import Any

import typer.main


def _lines(command: Any, path: str) -> list[str]:
    """A row per leaf command (typer vendors its own click, so this goes by attributes)."""
    out: list[str] = []
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                out += _lines(sub, f"{path} {name}")
        return out
    context = command.context_class(command, info_name=path)
    usage = " ".join(command.collect_usage_pieces(context))
    usage = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), usage)  # as --help shows them
    summary = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
    out.append(f"| `{path} {usage}`".rstrip() + f" | {summary} |")
    return out


def markdown() -> str:
    from remem.cli import app

    group = typer.main.get_command(app)
    rows = _lines(group, "remem")
    return "\n".join(["| Command | What it does |", "|---|---|", *rows])


if __name__ == "__main__":
    print(markdown())
