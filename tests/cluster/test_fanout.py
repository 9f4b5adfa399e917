"""Searches on a cluster: a namespace's goes to its primary and finds all of it; one across
namespaces asks every primary and merges them into the exact page (order, offset, limit, total)
a single Redis would give."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
from redis.asyncio import Redis

from remem.store.connection import open_redis
from remem.store.fanout import alias_for, sorted_everywhere
from remem.store.keys import Keys
from remem.store.query import tag_any, tag_equals
from remem.store.schema import ensure_on_every_primary, working_memory_index
from remem.store.working import WorkingMemoryStore


class Made(NamedTuple):
    namespace: str | None
    at: float


NAMESPACES = [f"team {i}/{{x}}" for i in range(30)]  # spaces, slashes and braces: encoded


@pytest.fixture(scope="module")
async def written(cluster_url: str) -> AsyncIterator[tuple[Redis, str, dict[str, Made]]]:
    """Sessions of 30 namespaces (1 to 12 each) and 8 without one, each with a distinct
    ``created_at``: (client, alias, key -> its namespace and created_at)."""
    redis = await open_redis(cluster_url, timeout=5, max_connections=8)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_on_every_primary(redis, keys, spec)
    store = WorkingMemoryStore(redis, keys, spec.name)
    rng = random.Random(23)
    created = rng.sample(range(1_000_000), 400)
    made: dict[str, Made] = {}
    scopes = [(ns, 1 + i % 12) for i, ns in enumerate(NAMESPACES)] + [(None, 8)]
    for ns, count in scopes:
        for i in range(count):
            at = created.pop() / 1000
            doc = {"session_id": f"s{i}", "namespace": ns, "user_id": "u", "created_at": at,
                   "updated_at": at, "expires_at": None, "messages": []}  # fmt: skip
            await store.put((f"s{i}", "u", ns), doc)
            made[keys.working_memory(f"s{i}", "u", ns)] = Made(ns, at)
    yield redis, spec.name, made
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        for name in await redis.execute_command("FT._LIST", target_nodes=node):
            if name.startswith(keys.prefix):
                await redis.execute_command("FT.DROPINDEX", name, "DD")
    await redis.aclose()


def _expected(made: dict[str, Made], descending: bool, *namespaces: str) -> list[str]:
    """The keys of ``namespaces`` (all: none given) in ``created_at`` order."""
    chosen = [k for k, m in made.items() if not namespaces or m.namespace in namespaces]
    return sorted(chosen, key=lambda k: -made[k].at if descending else made[k].at)


async def test_a_namespace_s_search_finds_it_whole_on_its_primary(
    written: tuple[Redis, str, dict[str, Made]],
) -> None:
    redis, alias, made = written
    for i, ns in enumerate(NAMESPACES):
        reply = await redis.execute_command(
            "FT.SEARCH", alias_for(redis, alias, ns), tag_equals("namespace", ns),
            "NOCONTENT", "SORTBY", "created_at", "DESC", "LIMIT", 0, 100, "DIALECT", 2,
        )  # fmt: skip
        assert reply["total_results"] == 1 + i % 12
        assert [r["id"] for r in reply["results"]] == _expected(made, True, ns)


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("offset", [0, 17, 150, 180])
async def test_every_page_across_namespaces_is_exact(
    written: tuple[Redis, str, dict[str, Made]], offset: int, descending: bool
) -> None:
    redis, alias, made = written
    total, page = await sorted_everywhere(
        redis, alias, "*", sort_by="created_at", descending=descending, offset=offset, limit=20
    )
    assert total == len(made) == 185
    assert page == _expected(made, descending)[offset : offset + 20]


async def test_a_page_of_some_namespaces_is_exact(
    written: tuple[Redis, str, dict[str, Made]],
) -> None:
    redis, alias, made = written
    some = NAMESPACES[::3]
    total, page = await sorted_everywhere(
        redis, alias, tag_any("namespace", some), sort_by="updated_at", descending=True,
        offset=5, limit=10,
    )  # fmt: skip
    wanted = _expected(made, True, *some)
    assert total == len(wanted) and page == wanted[5:15]
