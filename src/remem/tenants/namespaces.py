"""The namespaces a caller may see that hold anything, with their counts (``GET
/v1/namespaces``): counted by the store over both indexes, then held to the caller's scope."""

from __future__ import annotations

from remem.auth.principal import namespace_matches
from remem.models.overview import NamespaceInfo, NamespaceList
from remem.runtime import Resources
from remem.store.namespaces import Namespaces


async def list_namespaces(
    res: Resources,
    patterns: tuple[str, ...] | None,
    user_id: str | None,
    *,
    limit: int,
    offset: int,
) -> NamespaceList:
    """A page of the namespaces ``patterns`` cover (None: every one), sorted by name, with the
    sessions and memories of ``user_id`` (None: every user) in each; ``total`` exact. The
    store asks the engine for the patterns only; each name is checked against them again."""
    store = Namespaces(res.redis, res.working.store.index, res.long_term.store.index.name)
    found = [
        n
        for n in await store.counts(user_id, patterns)
        if patterns is None or any(namespace_matches(p, n.name) for p in patterns)
    ]
    page = found[offset : offset + limit]
    return NamespaceList(
        namespaces=[
            NamespaceInfo(name=n.name, sessions=n.sessions, memories=n.memories) for n in page
        ],
        total=len(found),
    )
