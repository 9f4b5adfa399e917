"""Long-term memories' keys on a cluster: a memory in its namespace's slot (beside its
sessions), its namespace's generation token and access-count hash in the same slot, and a
memory found by its id alone through every primary's index; a single Redis keeps its names."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from redis.asyncio import Redis

from remem.store.keys import Keys
from remem.store.longterm.located import keys_by_id
from remem.store.schema import ensure_long_term_index
from remem.store.slots import key_slot

NAMESPACES = [f"ns {i}/{{x}}:" for i in range(30)]  # spaces, slashes, braces, colons


def test_a_single_redis_keeps_its_names() -> None:
    keys = Keys("p:")
    assert keys.memory("a b", "ns") == keys.memory("a b") == "p:mem:a%20b"
    assert keys.parse_memory("p:mem:a%20b") == "a b"
    assert keys.long_term_generation_of(keys.memory("a")) == "p:lt:generation"
    assert keys.access_counts_of(keys.memory("a")) == "p:lt:access_count"


@pytest.mark.parametrize("namespace", ["ns", "a/{b}:c", None])
def test_a_memory_shares_its_slot_with_its_token_and_hits(namespace: str | None) -> None:
    keys = Keys("p:", cluster=True)
    key = keys.memory("id {1}:x", namespace)
    assert keys.parse_memory(key) == "id {1}:x"
    slot = key_slot(key)
    assert key_slot(keys.long_term_generation_of(key)) == slot
    assert key_slot(keys.access_counts_of(key)) == slot
    if namespace is not None:  # beside the namespace's sessions
        assert slot == key_slot(keys.working_memory("s", "u", namespace))
        assert key == f"p:mem:{{{quote(namespace, safe='')}}}:id%20%7B1%7D%3Ax"
    else:
        assert key.startswith("p:mem:{}:")


async def test_a_script_reads_a_memory_and_its_hits_in_one_slot(redis: Redis, keys: Keys) -> None:
    read = "return {redis.call('HGET', KEYS[1], 'text'), redis.call('HGET', KEYS[2], ARGV[1])}"
    for namespace in [*NAMESPACES[:6], None]:
        key = keys.memory("m", namespace)
        await redis.hset(key, mapping={"id": "m", "text": f"of {namespace}"})
        await redis.hincrby(keys.access_counts_of(key), "m", 3)
        hits = keys.access_counts_of(key)
        # On a cluster a script naming two slots is refused (CROSSSLOT): this one runs.
        assert await redis.eval(read, 2, key, hits, "m") == [f"of {namespace}", "3"]  # type: ignore[misc]


async def test_a_memory_is_found_by_its_id_on_every_primary(redis: Redis, keys: Keys) -> None:
    alias = f"{keys.prefix}long_term_memory_idx"
    await ensure_long_term_index(redis, keys, alias, 64)
    written: dict[str, list[str]] = {}
    for i, namespace in enumerate([*NAMESPACES, None, None, None]):
        memory_id = f"m{i}" if i % 3 else f"M-{i} {{odd}}"
        key = keys.memory(memory_id, namespace)
        fields = {"id": memory_id, "search_terms": "tea", "created_at": i}
        if namespace is not None:
            fields["namespace"] = namespace
        await redis.hset(key, mapping=fields)  # type: ignore[arg-type]
        written[memory_id] = [key]
    for namespace in NAMESPACES[3:6]:  # one id held by three namespaces
        key = keys.memory("shared", namespace)
        await redis.hset(key, mapping={"id": "shared", "namespace": namespace})
        written.setdefault("shared", []).append(key)
    held = {node.name for ks in written.values() for k in ks for node in [_node(redis, k)]}
    assert len(held) == 3  # the keys are spread over every primary

    asked = [*written, "absent", "m1".upper()]
    found = await keys_by_id(redis, keys, alias, asked)
    assert found == {**{i: sorted(k) for i, k in written.items()}, "absent": [], "M1": []}

    # Given the namespace, only its primary is asked and only its keys are kept.
    one = await keys_by_id(redis, keys, alias, ["shared", "m1"], NAMESPACES[4])
    assert one == {"shared": [keys.memory("shared", NAMESPACES[4])], "m1": []}
    assert await keys_by_id(redis, keys, alias, []) == {}


def _node(redis: Redis, key: str) -> object:
    return redis.nodes_manager.get_node_from_slot(key_slot(key))  # type: ignore[attr-defined]
