"""Stored documents the server cannot read back (edited by hand in Redis, or an older layout)."""

from __future__ import annotations

from pydantic import ValidationError

from remem.errors import Conflict


class Unreadable(Conflict):
    """A 409 naming what in the stored document cannot be read: what conflicts with the request
    is the stored state, and deleting the document, or writing it again, resolves it. (A 500
    would blame the server; a 404 would hide a document that is there.)"""

    code = "unreadable"


def reason(exc: ValidationError | ValueError) -> str:
    """The first problems of ``exc``, each with the field it is about."""
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
        )
    return str(exc)
