"""The namespaces and their counts on a cluster: every primary's session and memory indexes are
asked and their counts added, so each namespace's counts are exact wherever its records sit."""

from __future__ import annotations

import uuid

from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.namespaces import NamespaceCounts, Namespaces
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.store.working import WorkingMemoryStore


async def test_counts_add_up_over_every_primary(cluster_url: str) -> None:
    redis = await open_redis(cluster_url, timeout=5, max_connections=8)
    keys = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    long_term = f"{keys.prefix}memories"
    try:
        await ensure_index(redis, keys, spec)
        await ensure_long_term_index(redis, keys, long_term, 8)
        store = WorkingMemoryStore(redis, keys, spec.name)
        expected = []
        for i in range(30):
            ns = f"team {i}"
            for s in range(i % 3):
                doc = {"session_id": f"s{s}", "namespace": ns, "user_id": f"u{s}",
                       "created_at": 1.0, "updated_at": 1.0, "expires_at": None}  # fmt: skip
                await store.put((f"s{s}", f"u{s}", ns), doc)
            for m in range(i % 4):  # memories keyed by id alone: on any primary
                mapping = {"namespace": ns, "user_id": f"u{m % 2}", "created_at": 1}
                await redis.hset(keys.memory(f"{i}-{m}"), mapping=mapping)  # type: ignore[arg-type]
            if i % 3 or i % 4:
                expected.append(NamespaceCounts(ns, i % 3, i % 4))
        found = await Namespaces(redis, spec.name, long_term).counts()
        assert found == sorted(expected, key=lambda c: c.name)
        scoped = await Namespaces(redis, spec.name, long_term).counts("u1", ["team 1*"])
        assert scoped == [
            NamespaceCounts(f"team {i}", int(i % 3 > 1), sum(m % 2 for m in range(i % 4)))
            for i in sorted([1, *range(10, 20)], key=str)
            if i % 3 > 1 or i % 4 > 1
        ]
    finally:
        for node in redis.get_primaries():  # type: ignore[attr-defined]
            for name in await redis.execute_command("FT._LIST", target_nodes=node):
                if name.startswith(keys.prefix):
                    await redis.execute_command("FT.DROPINDEX", name, "DD")
        await redis.aclose()
