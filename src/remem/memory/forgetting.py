"""Forgetting: delete memories by the Agent Memory Server's policy.

A policy (all keys optional)::

    max_age_days            older than this (created_at)            -> forget
    max_inactive_days       not accessed for this long              -> forget
    both given              forget when older than max_age_days AND inactive longer than
                            max_inactive_days, or older than max_age_days * hard_age_multiplier
    budget                  keep at most this many of the scanned memories: the least recently
                            accessed of the rest go
    memory_type_allowlist   only memories of these types may be forgotten

Pinned memories (and the ``pinned_ids`` given) are never forgotten, nor are memories in a chain
of versions (facts that change: one that supersedes or is superseded), whose history forgetting
one would break. Candidates are read through
the index oldest ``created_at`` first, at most ``limit`` of them, within the namespace / user /
session given.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from remem.models.search import ForgetPolicy
from remem.store.longterm import Row

DAY = 86_400.0


def select_for_forgetting(
    rows: Sequence[Row], policy: ForgetPolicy, now: float, pinned_ids: Collection[str] = ()
) -> list[str]:
    """The ids ``policy`` forgets among ``rows`` (in the order of ``rows``)."""
    doomed: set[str] = set()
    kept: list[Row] = []
    allow = set(policy.memory_type_allowlist) if policy.memory_type_allowlist is not None else None
    for row in rows:
        if row.pinned or row.linked or row.id in pinned_ids:
            continue
        if allow is not None and row.memory_type not in allow:
            continue
        age = (now - row.created_at) / DAY
        inactive = (now - row.last_accessed) / DAY
        max_age, max_inactive = policy.max_age_days, policy.max_inactive_days
        if max_age is not None and max_inactive is not None:
            forget = (age > max_age and inactive > max_inactive) or (
                age > max_age * policy.hard_age_multiplier
            )
        elif max_age is not None:
            forget = age > max_age
        elif max_inactive is not None:
            forget = inactive > max_inactive
        else:
            forget = False
        if forget:
            doomed.add(row.id)
        else:
            kept.append(row)
    if policy.budget is not None and len(kept) > policy.budget:
        kept.sort(key=lambda r: (r.last_accessed or r.created_at, r.created_at, r.id))
        doomed.update(r.id for r in kept[: len(kept) - policy.budget])
    return [r.id for r in rows if r.id in doomed]
