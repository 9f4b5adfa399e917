"""Facts that change: validity intervals, supersede links and the history of a memory.

A memory holds a fact from ``valid_at`` (given, else its ``event_date``, else its
``created_at``) until ``invalid_at`` (null while it is true). A newer version of the fact
*supersedes* the older one: the new memory lists the old in ``supersedes``, the old gets the
new one's id in ``superseded_by`` and ``invalid_at`` = the new one's ``valid_at``. Nothing is
deleted: a search leaves out memories whose ``invalid_at`` has passed (``memory.filters.
validity``), ``as_of`` asks what was true at an instant, and the history of a memory is the
chain of its versions, oldest first.

Who supersedes what:

- **The caller**, explicitly: a create with ``supersedes: [ids]``. Each id must be a memory of
  the same namespace and user (another tenant's id is "not found"), checked before anything is
  written; the links are written in the same MULTI as the new memory
  (``MemoryDocuments.upsert_many``), each by a one-key script, so two concurrent supersedes of
  one memory both land (its ``superseded_by`` names both; its ``invalid_at`` is the earlier).
- **The LLM judge**, when configured (``memory.dedup``): the verdict ``updates`` (same subject,
  changed value). Of the two versions the one that became true later supersedes the other, so
  a conversation extracted out of order still ends with the latest fact current.

Without an LLM only explicit ``supersedes`` changes validity: nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from remem.errors import InvalidInput, NotFound
from remem.memory.dedup import union
from remem.memory.sameness import same_scope
from remem.store.longterm import Link

HISTORY_MAX = 100  # versions a history lists at most (a chain is seldom longer than a few)


def valid_from(doc: dict[str, Any]) -> float:
    """When the fact of a stored document became true (epoch seconds)."""
    for name in ("valid_at", "event_date", "created_at"):
        if doc.get(name) is not None:
            return float(doc[name])
    return 0.0


def check_targets(
    doc: dict[str, Any], targets: list[str], found: Iterable[dict[str, Any] | None]
) -> None:
    """Refuse ``doc``'s ``supersedes`` unless every target exists in its namespace and user
    (else "not found", as for any id outside the caller's reach) and became true no later
    than ``doc``."""
    for target, old in zip(targets, found, strict=True):
        if target == doc["id"]:
            raise InvalidInput(f"memory {target!r} cannot supersede itself")
        if old is None or not same_scope(old, doc):
            raise NotFound(f"memory {target!r} to supersede not found")
        if valid_from(old) > doc["valid_at"]:
            raise InvalidInput(
                f"memory {doc['id']!r} (valid_at {doc['valid_at']}) cannot supersede "
                f"{target!r}, which became true later ({valid_from(old)})"
            )


def supersede(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Make ``new`` supersede ``old``, both documents about to be written."""
    new["supersedes"] = union(new.get("supersedes"), [old["id"]])
    old["superseded_by"] = union(old.get("superseded_by"), [new["id"]])
    if old.get("invalid_at") is None or new["valid_at"] < old["invalid_at"]:
        old["invalid_at"] = new["valid_at"]


def link_to_stored(new: dict[str, Any], old_id: str, at: float, *, newer: bool) -> Link:
    """The change a stored memory ``old_id`` takes when ``new`` (about to be written)
    supersedes it (``newer``) or is superseded by it; ``new`` is changed to match."""
    if newer:
        new["supersedes"] = union(new.get("supersedes"), [old_id])
        field, invalid = "superseded_by", new["valid_at"]
    else:
        new["superseded_by"] = union(new.get("superseded_by"), [old_id])
        field, invalid = "supersedes", None
    return Link(old_id, field, new["id"], invalid, new.get("namespace"), new.get("user_id"), at)


def outdate(new: dict[str, Any], newer_valid_at: float) -> None:
    """``new`` arrives already superseded by a stored memory that became true later."""
    if new.get("invalid_at") is None or newer_valid_at < new["invalid_at"]:
        new["invalid_at"] = newer_valid_at


def chain(docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions found, oldest first (by ``valid_at``, then ``created_at``, then id)."""
    return sorted(
        docs.values(), key=lambda d: (valid_from(d), float(d.get("created_at") or 0), d["id"])
    )


def neighbours(doc: dict[str, Any]) -> list[str]:
    """The ids one step away in the chain: what it supersedes and what superseded it."""
    return union(doc.get("supersedes"), doc.get("superseded_by"))
