"""Reading values the Agent Memory Server (AMS) wrote: shared by the working-memory and the
long-term parts of ``remem migrate``. A value that cannot be read raises ``Skip`` with the
reason; the migration leaves its key in place and reports it."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError


class Skip(Exception):
    """A legacy value that cannot become a remem document; the message is the reason."""


def epoch_of(value: object, default: float) -> float:
    """Epoch seconds from int/float epoch seconds, a string of one (AMS's hashes), or an ISO
    8601 string (naive means UTC); ``default`` for None or an empty string."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Skip(f"unreadable timestamp {value!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def invalid(exc: ValidationError) -> Skip:
    """The first problem pydantic found, as a reason."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return Skip(f"invalid {where}: {error['msg']}")


def scan_literal(text: str) -> str:
    """``text`` as a literal in a SCAN pattern (its ``*?[]\\`` escaped)."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
