"""Options several commands share, each checked as it is parsed: a value a command cannot use
as given is a usage error (exit code 2) before anything starts, never a wider scope than asked
(``--namespace ""`` used to search every namespace, ``--redis-url ""`` to start the embedded
Redis) nor another value in silence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from remem.memory.identifiers import id_problem

Check = Callable[[str | None], str | None]


def scope(kind: str, hint: str) -> Check:
    """Checks a namespace or user option as the API checks the value (not empty, no edge
    whitespace, no control characters), so the CLI narrows exactly as a request would."""

    def check(value: str | None) -> str | None:
        problem = None if value is None else id_problem(kind, value)
        if problem is not None:
            raise typer.BadParameter(f"{problem} ({hint})" if value == "" else problem)
        return value

    return check


def given(hint: str) -> Check:
    """Checks that an option given has a value: an empty one would mean its default."""

    def check(value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise typer.BadParameter(f"empty ({hint})")
        return value

    return check


EVERY_NAMESPACE = "leave the option out for every namespace"
EVERY_USER = "leave the option out for every user"

Json = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
Namespace = Annotated[
    str | None, typer.Option(help="Namespace.", callback=scope("namespace", EVERY_NAMESPACE))
]
UserId = Annotated[
    str | None,
    typer.Option("--user-id", help="User id.", callback=scope("user id", EVERY_USER)),
]
DataDir = Annotated[
    Path | None, typer.Option(help="Data directory of the embedded Redis [REMEM_DATA_DIR].")
]
RedisUrl = Annotated[
    str | None,
    typer.Option(
        help="Use this Redis instead of the embedded one [REDIS_URL].",
        callback=given("leave the option out to use the embedded Redis"),
    ),
]
