"""The namespaces a caller may see that hold anything, with their counts (``GET
/v1/namespaces``): counted by the store over both indexes, then held to the caller's scope."""

from __future__ import annotations

from collections.abc import Callable

from remem.models.overview import NamespaceInfo, NamespaceList
from remem.runtime import Resources
from remem.store.namespaces import Namespaces


async def list_namespaces(
    res: Resources,
    allowed: Callable[[str], bool] | None,
    user_id: str | None,
    *,
    limit: int,
    offset: int,
) -> NamespaceList:
    """A page of the namespaces ``allowed`` covers (None: every one), sorted by name, with
    the sessions and memories of ``user_id`` (None: every user) in each; ``total`` exact."""
    store = Namespaces(res.redis, res.working.store.index, res.long_term.store.index.name)
    found = [n for n in await store.counts(user_id) if allowed is None or allowed(n.name)]
    page = found[offset : offset + limit]
    return NamespaceList(
        namespaces=[
            NamespaceInfo(name=n.name, sessions=n.sessions, memories=n.memories) for n in page
        ],
        total=len(found),
    )
