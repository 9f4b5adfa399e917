"""The caller of the request or tool call being served, in a context variable.

The HTTP middleware (``remem.api.authenticate``) sets it for every request, REST and MCP alike
(the MCP transport is mounted in the same app); the stdio MCP server and the CLI set it once.
It has no default: code that asks for the caller where none was set fails closed (a 500 with
an error id, never an anonymous admin).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from remem.auth.principal import Principal

_CALLER: ContextVar[Principal] = ContextVar("remem_caller")


def caller() -> Principal:
    """The caller being served. ``LookupError`` when none was set: a bug, never a default."""
    return _CALLER.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Run the block as ``principal`` (and restore the previous caller after it)."""
    token = _CALLER.set(principal)
    try:
        yield principal
    finally:
        _CALLER.reset(token)
