"""Indexes on a Redis Cluster without a coordinator: the session index and its alias exist on
every primary, each named into one of that primary's slots; each sees only its primary's keys,
so a namespace is found whole on the primary holding its slot, and all of them across every
primary."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from remem.errors import IncompatibleBackend
from remem.store.keys import Keys
from remem.store.query import tag_equals
from remem.store.schema import (
    FieldSpec,
    ensure_index,
    ensure_long_term_index,
    ensure_on_every_primary,
    working_memory_index,
)
from remem.store.slots import key_slot, primary_tags
from remem.store.working import WorkingMemoryStore


async def _listed(redis: Redis, prefix: str) -> dict[str, list[str]]:
    return {
        node.name: sorted(
            n
            for n in await redis.execute_command("FT._LIST", target_nodes=node)
            if n.startswith(prefix)
        )
        for node in redis.get_primaries()  # type: ignore[attr-defined]
    }


async def test_every_primary_has_the_index_and_alias(redis: Redis, keys: Keys) -> None:
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    lives = await ensure_on_every_primary(redis, keys, spec)
    assert await ensure_index(redis, keys, spec) == lives[0]  # again: nothing changes
    tags = primary_tags(redis)
    listed = await _listed(redis, keys.prefix)
    assert len(listed) == 3
    for node, tag in tags.items():
        (live,) = listed[node]  # one index on each primary, named into its slots
        assert live.endswith(f":{{{tag}}}") and live in lives
        info = await redis.execute_command("FT.INFO", f"{spec.name}:{{{tag}}}")
        assert info["index_name"] == live  # the primary's alias points at its own index


async def test_a_changed_declaration_replaces_every_primary_s_index(
    redis: Redis, keys: Keys
) -> None:
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    old = await ensure_on_every_primary(redis, keys, spec)
    changed = replace(spec, fields=(*spec.fields, FieldSpec("$.topic", "topic", "TAG")))
    new = await ensure_on_every_primary(redis, keys, changed)
    assert not set(old) & set(new)
    assert sorted(
        n for names in (await _listed(redis, keys.prefix)).values() for n in names
    ) == sorted(new)


async def test_a_namespace_is_found_whole_on_its_primary(redis: Redis, keys: Keys) -> None:
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_on_every_primary(redis, keys, spec)
    store = WorkingMemoryStore(redis, keys, spec.name)
    namespaces = {f"ns{i}": 1 + i % 4 for i in range(30)}
    for ns, count in namespaces.items():
        for i in range(count):
            doc = {"session_id": f"s{i}", "namespace": ns, "user_id": "u", "created_at": i,
                   "updated_at": i, "expires_at": None, "messages": []}  # fmt: skip
            await store.put((f"s{i}", "u", ns), doc)
    tags = primary_tags(redis)
    holders = set()
    for ns, count in namespaces.items():
        node = redis.nodes_manager.get_node_from_slot(key_slot(ns))  # type: ignore[attr-defined]
        holders.add(node.name)
        found = await redis.execute_command(
            "FT.SEARCH", f"{spec.name}:{{{tags[node.name]}}}", tag_equals("namespace", ns),
            "NOCONTENT", "LIMIT", 0, 10, "DIALECT", 2,
        )  # fmt: skip
        assert found["total_results"] == count, ns
    assert len(holders) == 3
    totals = [
        (
            await redis.execute_command(
                "FT.SEARCH", f"{spec.name}:{{{tag}}}", "*", "LIMIT", 0, 0, "DIALECT", 2
            )
        )["total_results"]
        for tag in tags.values()
    ]
    assert sum(totals) == sum(namespaces.values()) and min(totals) > 0


async def test_the_long_term_index_on_every_primary_checks_each(redis: Redis, keys: Keys) -> None:
    """Built on every primary; a later start with another vector dimension is refused, and so
    is a store in the old JSON layout, wherever its memories sit."""
    name = f"{keys.prefix}memories"
    live = await ensure_long_term_index(redis, keys, name, 8)
    assert sum(len(v) for v in (await _listed(redis, keys.prefix)).values()) == 3
    assert await ensure_long_term_index(redis, keys, name, 8) == live
    with pytest.raises(IncompatibleBackend, match="8-dimensional vectors"):
        await ensure_long_term_index(redis, keys, name, 16)

    other = Keys(f"t{uuid.uuid4().hex[:10]}:", cluster=True)
    key = other.memory("old")  # in the JSON layout of earlier versions, with no index
    await redis.execute_command("JSON.SET", key, "$", '{"id": "old", "text": "t"}')
    try:
        with pytest.raises(IncompatibleBackend, match="remem migrate"):
            await ensure_long_term_index(redis, other, f"{other.prefix}memories", 8)
    finally:
        await redis.delete(key)


async def test_a_primary_s_index_loads_only_documents_of_its_own_slot(
    redis: Redis, keys: Keys
) -> None:
    """Why remem never has the engine load a document on a cluster (RETURN, LOAD): the Query
    Engine without a coordinator finds a document of another slot than its index's name, on
    the same primary, but loads none of its fields; values it keeps in the index (SORTABLE,
    sort keys, tag values) it does give."""
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    assert any(f.name == "namespace" and f.sortable for f in spec.fields)  # for GROUPBY
    await ensure_on_every_primary(redis, keys, spec)
    tags = primary_tags(redis)
    node = redis.nodes_manager.get_node_from_slot(key_slot("a"))  # type: ignore[attr-defined]
    alias, own = f"{spec.name}:{{{tags[node.name]}}}", tags[node.name]
    other = next(
        t
        for t in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
        if redis.nodes_manager.get_node_from_slot(key_slot(t)).name == node.name  # type: ignore[attr-defined]
        and key_slot(t) != key_slot(own)
    )
    for tag in (own, other):
        key = f"{keys.working_memory_prefix}{{{tag}}}:u:s"
        await redis.execute_command("JSON.SET", key, "$", '{"namespace": "n", "created_at": 1}')
    found = await redis.execute_command(
        "FT.SEARCH", alias, "*", "RETURN", 1, "namespace", "WITHSORTKEYS", "SORTBY", "created_at"
    )
    loaded = {
        r["id"].split("{")[1].split("}")[0]: r.get("extra_attributes") for r in found["results"]
    }
    assert loaded == {own: {"namespace": "n"}, other: None}
    assert all(r["sortkey"] == "#1" for r in found["results"])
    grouped = await redis.execute_command(
        "FT.AGGREGATE", alias, "*", "GROUPBY", 1, "@namespace", "REDUCE", "COUNT", 0, "AS", "n"
    )
    assert [r["extra_attributes"] for r in grouped["results"]] == [{"namespace": "n", "n": "2"}]
