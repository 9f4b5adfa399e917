"""Rules for the ids users choose: session ids, namespaces, user ids."""

from __future__ import annotations

import re

from remem.errors import InvalidInput

MAX_ID_LENGTH = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it can be stored and filtered exactly, else raise InvalidInput.

    Any printable text is accepted, query-syntax characters and unicode included. Refused:
    empty values, control characters and leading/trailing whitespace (the search index trims
    it, so ``" a"`` and ``"a"`` could not be told apart).
    """
    if not value:
        raise InvalidInput(f"{kind} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{kind} is longer than {MAX_ID_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidInput(f"{kind} must not contain control characters")
    if value != value.strip():
        raise InvalidInput(f"{kind} must not start or end with whitespace")
    return value


def optional_id(kind: str, value: str | None) -> str | None:
    """Like check_id, but None and "" both mean "not given"."""
    return check_id(kind, value) if value else None
