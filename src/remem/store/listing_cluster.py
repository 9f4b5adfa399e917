"""Listing sessions on a Redis Cluster (``Keys(cluster=True)``).

A namespace's sessions carry its hash tag, so they all sit on the primary holding its slot, in
that primary's copy of the session index (``fanout.alias_for``): its listing is
``store.listing``'s, plans and all, on that alias. A listing without a namespace (all of a
caller's namespaces, or every session) asks every primary and merges (``fanout
.sorted_everywhere``): exact order, offset, limit and total, each primary reading as deep as the
page. It always carries the expiry clause (``listing.alive``): the question "is any expired
session still indexed" would have to be asked of every primary first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from remem.store.connection import translates_errors
from remem.store.fanout import alias_for, aliases, sorted_everywhere
from remem.store.keys import Keys
from remem.store.listing import PLAIN_BELOW, PLAIN_DEEP_BELOW, SessionListing, SortField, alive
from remem.store.moving import namespace_probe, settled
from remem.store.query import conjunction, is_prefix, tag_equals, tag_patterns


@translates_errors
@dataclass
class ClusterSessionListing:
    """``SessionListing.list_sessions`` over the primaries of a cluster (see the module)."""

    redis: Redis
    keys: Keys
    index: str
    plain_below: int = PLAIN_BELOW
    plain_deep_below: int = PLAIN_DEEP_BELOW
    _by_alias: dict[str, SessionListing] = field(default_factory=dict)

    async def list_sessions(
        self,
        *,
        namespace: str | None = None,
        namespaces: Sequence[str] | None = None,
        user_id: str | None,
        sort: SortField,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[int, list[str]]:
        """(true total, session ids of the page)."""
        if namespace:
            return await settled(
                self.redis,
                lambda: self._on(alias_for(self.redis, self.index, namespace)).list_sessions(
                    namespace=namespace,
                    namespaces=namespaces,
                    user_id=user_id,
                    sort=sort,
                    descending=descending,
                    offset=offset,
                    limit=limit,
                ),
                namespace_probe(namespace),
            )
        scope = await self._scope(namespaces, user_id)
        if scope is None:
            return 0, []
        total, keys = await sorted_everywhere(
            self.redis,
            self.index,
            conjunction([scope, alive(time.time())]),
            sort_by=sort,
            descending=descending,
            offset=offset,
            limit=max(limit, 0),
        )
        return total, [self.keys.parse_working_memory(k)[2] for k in keys]

    def _on(self, alias: str) -> SessionListing:
        """The listing of one primary's alias (kept: it remembers its scopes' sizes)."""
        if alias not in self._by_alias:
            self._by_alias[alias] = SessionListing(
                self.redis, self.keys, alias, self.plain_below, self.plain_deep_below
            )
        return self._by_alias[alias]

    async def _scope(self, namespaces: Sequence[str] | None, user_id: str | None) -> str | None:
        """``SessionListing._scope`` with the namespaces of every primary."""
        in_namespaces = ""
        if namespaces is not None:
            values = await self._namespaces() if any(map(is_prefix, namespaces)) else ()
            found = tag_patterns("namespace", namespaces, values)
            if found is None:
                return None
            in_namespaces = found
        return conjunction([in_namespaces, tag_equals("user_id", user_id) if user_id else ""])

    async def _namespaces(self) -> list[str]:
        """Every namespace some indexed session has, on any primary (``FT.TAGVALS`` each)."""
        replies = await settled(self.redis, self._tag_values)
        found = {v.decode() if isinstance(v, bytes) else str(v) for r in replies for v in r}
        return sorted(found)

    async def _tag_values(self) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in aliases(self.redis, self.index):
                pipe.execute_command("FT.TAGVALS", name, "namespace")
            return list(await pipe.execute())


def session_listing(
    redis: Redis, keys: Keys, index: str, plain_below: int, plain_deep_below: int
) -> SessionListing | ClusterSessionListing:
    """The session listing ``keys`` call for: one index, or one per primary of a cluster."""
    kind = ClusterSessionListing if keys.cluster else SessionListing
    return kind(redis, keys, index, plain_below, plain_deep_below)
