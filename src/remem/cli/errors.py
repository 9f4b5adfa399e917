"""How a command's failure reaches its user: one line on stderr starting ``remem: ``, exit code
2 for a usage error (a bad option value or argument) and 1 for a failure (a missing file, Redis
unreachable, a session not found...).

Translated once, here, for every command: ``RememGroup`` is the ``remem`` group's class. Its
``invoke`` turns any exception a command raises into a ``CliError`` (the table is
``translate``), and its ``main`` prints click's own errors (usage, a file it could not open)
and those in the same one line, where typer would print a panel or a 90-line traceback. An
exception remem did not foresee is a bug: one line still, and ``remem --debug ...`` shows its
traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from remem.errors import InvalidInput, PayloadTooLarge, RememError

USAGE, FAILURE = 2, 1


class CliError(typer.TyperException):
    """A command's error as its user reads it: ``message``, and the exit code."""

    def __init__(self, message: str, exit_code: int = FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """The command was asked something it cannot do as asked (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def one_line(text: str) -> str:
    """``text``'s lines joined: pydantic and click messages span several."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _validation(exc: ValidationError) -> str:
    """Each refused field with pydantic's reason (the CLI builds its models from options)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def translate(exc: Exception) -> CliError:
    """The user's view of an exception a command raised."""
    if isinstance(exc, RememError):
        # A request refused as given (400, 413) is a usage error; the rest are failures.
        usage = isinstance(exc, InvalidInput | PayloadTooLarge)
        return CliError(exc.detail, USAGE if usage else FAILURE)
    if isinstance(exc, ValidationError):  # settings or a request built from the options
        return UsageError(_validation(exc))
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        return CliError(f"{where}: {exc.strerror}" if where else exc.strerror)
    return CliError(
        f"unexpected error ({type(exc).__name__}: {exc}); `remem --debug ...` shows where"
    )


def say(message: str) -> None:
    """Print a command's error as every remem command does."""
    typer.echo(f"remem: {one_line(message)}", err=True)


class RememGroup(TyperGroup):
    """The ``remem`` group: every error of every command as one line (the module's rules)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # click's own, and errors already in the user's terms
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise translate(exc) from exc

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        run = super().main
        if not standalone_mode:
            return run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = run(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the help, already printed
                sys.exit(USAGE)
            say(_hinted(exc))
            sys.exit(exc.exit_code)
        except typer.Abort:  # Ctrl-D at a prompt
            say("aborted")
            sys.exit(FAILURE)
        sys.exit(code if isinstance(code, int) else 0)


def _hinted(exc: typer.TyperException) -> str:
    """A usage error of click's, with where to read how the command is used."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is None or isinstance(exc, CliError):
        return message
    return f"{message} (see `{ctx.command_path} --help`)"
