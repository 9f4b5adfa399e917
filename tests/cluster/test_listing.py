"""Listing sessions on a cluster: a namespace's listing runs on the primary holding it; a
listing across namespaces (all, a caller's prefixes, one user's) is merged from every primary
into the exact page and total, deep pages included."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest

from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.listing_cluster import ClusterSessionListing
from remem.store.schema import ensure_index, working_memory_index
from remem.store.working import WorkingMemoryStore


class Made(NamedTuple):
    session_id: str
    namespace: str | None
    user_id: str
    created_at: float


@pytest.fixture(scope="module")
async def listed(cluster_url: str) -> AsyncIterator[tuple[WorkingMemoryStore, list[Made]]]:
    """Sessions of 30 namespaces (1 to 6 each, two users) and 5 without a namespace, each
    created at a distinct time."""
    redis = await open_redis(cluster_url, timeout=5, max_connections=8)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_index(redis, keys, spec)
    store = WorkingMemoryStore(redis, keys, spec.name)
    times = random.Random(5).sample(range(100_000), 200)
    made = []
    scopes = [(f"team {i}", 1 + i % 6) for i in range(30)] + [(None, 5)]
    for ns, count in scopes:
        for i in range(count):
            at, user = times.pop() / 10, f"user{i % 2}"
            sid = f"{ns or 'none'}-s{i}"
            doc = {"session_id": sid, "namespace": ns, "user_id": user, "created_at": at,
                   "updated_at": at, "expires_at": None, "messages": []}  # fmt: skip
            await store.put((sid, user, ns), doc)
            made.append(Made(sid, ns, user, at))
    yield store, made
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        for name in await redis.execute_command("FT._LIST", target_nodes=node):
            if name.startswith(keys.prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")
    await redis.aclose()


def _ids(made: list[Made], descending: bool) -> list[str]:
    return [m.session_id for m in sorted(made, key=lambda m: m.created_at, reverse=descending)]


async def test_a_namespace_is_listed_on_its_primary(
    listed: tuple[WorkingMemoryStore, list[Made]],
) -> None:
    store, made = listed
    assert isinstance(store.listing, ClusterSessionListing)
    for ns in ("team 5", "team 11", "team 29"):
        total, page = await store.list_sessions(
            namespace=ns, user_id=None, sort="created_at", descending=True, offset=0, limit=50
        )
        mine = [m for m in made if m.namespace == ns]
        assert total == len(mine) and page == _ids(mine, True)


@pytest.mark.parametrize(("offset", "descending"), [(0, True), (60, True), (100, False)])
async def test_every_session_is_listed_exactly(
    listed: tuple[WorkingMemoryStore, list[Made]], offset: int, descending: bool
) -> None:
    store, made = listed
    total, page = await store.list_sessions(
        user_id=None, sort="created_at", descending=descending, offset=offset, limit=25
    )
    assert total == len(made) == 110
    assert page == _ids(made, descending)[offset : offset + 25]


async def test_a_caller_s_prefixes_and_one_user_across_primaries(
    listed: tuple[WorkingMemoryStore, list[Made]],
) -> None:
    """``team 1*`` is resolved against the namespaces of every primary (team 1, 10-19)."""
    store, made = listed
    total, page = await store.list_sessions(
        namespaces=["team 1*", "team 2"], user_id="user1", sort="updated_at", descending=True,
        offset=2, limit=10,
    )  # fmt: skip
    wanted = [
        m
        for m in made
        if m.user_id == "user1"
        and m.namespace
        and (m.namespace.startswith("team 1") or m.namespace == "team 2")
    ]
    assert total == len(wanted) > 12
    assert page == _ids(wanted, True)[2:12]
    assert await store.list_sessions(
        namespaces=["nobody*"], user_id=None, sort="created_at", descending=True, offset=0, limit=5
    ) == (0, [])
