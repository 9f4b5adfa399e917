"""Rules for the values users choose that the index matches exactly: session ids, memory ids,
namespaces, user ids, topics and entities.

A value is kept exactly as given or refused (400) with the reason; it is never rewritten, since
a rewritten value could not be found by the value the client holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from remem.errors import InvalidInput

MAX_ID_BYTES = 4096
"""The Query Engine matches TAG values of up to 4,096 bytes: measured on RediSearch 2.10, a
topic of 4,097 ASCII characters, or of 2,100 two-byte ones, was stored but no filter found it."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def id_problem(kind: str, value: str) -> str | None:
    """Why ``value`` cannot be stored and matched exactly, or None if it can."""
    if not value:
        return f"{kind} must not be empty"
    if _CONTROL.search(value):
        return f"{kind} must not contain control characters"
    if value != value.strip():
        return f"{kind} must not start or end with whitespace"
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        return f"{kind} must be valid unicode (no lone surrogates)"
    if size > MAX_ID_BYTES:
        return f"{kind} is longer than {MAX_ID_BYTES} bytes of UTF-8"
    return None


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it can be stored and filtered exactly, else raise InvalidInput.

    Any printable text is accepted, query-syntax characters and unicode included. Refused:
    empty values, control characters, leading/trailing whitespace (the search index trims
    it, so ``" a"`` and ``"a"`` could not be told apart) and more than 4,096 bytes.
    """
    problem = id_problem(kind, value)
    if problem is not None:
        raise InvalidInput(problem)
    return value


def optional_id(kind: str, value: str | None) -> str | None:
    """Like check_id, but None means "not given". ``""`` is refused like any empty value: it
    used to mean "not given" too, so ``namespace=""`` was stored as no namespace and
    ``?namespace=`` listed every session."""
    return None if value is None else check_id(kind, value)


def stored_id(value: str) -> bool:
    """Whether ``value`` is an id a memory could be stored under (``check_id``'s rules)."""
    try:
        check_id("id", value)
    except InvalidInput:
        return False
    return True


def check_tags(kind: str, values: Sequence[str] | None) -> list[str] | None:
    """Topics or entities as given (repeats stored once), or InvalidInput naming the first
    value that could not be matched exactly."""
    if values is None:
        return None
    for i, value in enumerate(values):
        check_id(f"{kind}[{i}]", value)
    return list(dict.fromkeys(values))
