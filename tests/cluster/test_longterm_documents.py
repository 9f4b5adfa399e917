"""The long-term documents on a cluster's keys (``mem:{<ns>}:<id>``, each namespace's token and
access-count hash in its slot) answer as a single Redis doing the same writes, reads, pages,
edits, links, touches and deletes does; an id two namespaces hold is told apart by the
caller's namespaces. Each method's scripts and MULTIs name one slot (a cluster would refuse
any other with CROSSSLOT)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from redis.asyncio import Redis

from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.store.connection import connect, open_redis
from remem.store.keys import Keys
from remem.store.longterm import Link, LongTermStore
from remem.store.schema import ensure_long_term_index

DIMS = 8
NAMESPACES = [f"ns {i}/{{x}}:" for i in range(12)]
FIELDS = ("id", "text", "namespace", "user_id", "created_at", "access_count", "topics")
Pair = tuple[LongTermStore, LongTermStore]


def _records(n: int = 40) -> list[tuple[MemoryRecord, np.ndarray]]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(n):
        vector = rng.normal(size=DIMS).astype(np.float32)
        record = MemoryRecord(
            id=f"m{i}" if i % 4 else f"M {i}/{{odd}}",
            text=f"fact number {i}",
            namespace=NAMESPACES[i % len(NAMESPACES)] if i < n - 4 else None,
            user_id="ann" if i % 2 else None,
            topics=["tea"] if i % 3 else [],
        )
        out.append((record, vector / np.linalg.norm(vector)))
    return out


def _docs(at: float = 1000.0) -> list[dict[str, Any]]:
    docs = []
    for record, vector in _records():
        doc = to_doc(record, vector)
        doc["created_at"] = doc["updated_at"] = doc["last_accessed"] = at
        docs.append(doc)
    return docs


@pytest.fixture
async def stores(cluster_url: str, redis_url: str) -> AsyncIterator[Pair]:
    """An empty long-term store in a single Redis and one on the cluster: (single, cluster)."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    clients: list[Redis] = [
        connect(redis_url, timeout=5, max_connections=4),
        await open_redis(cluster_url, timeout=5, max_connections=8),
    ]
    pair = []
    for redis, keys in zip(clients, (Keys(prefix), Keys(prefix, cluster=True)), strict=True):
        await ensure_long_term_index(redis, keys, f"{prefix}memories", DIMS)
        pair.append(LongTermStore(redis, keys, f"{prefix}memories"))
    yield pair[0], pair[1]
    for store in pair:
        await store.aclose()
    for redis, nodes in ((clients[0], [None]), (clients[1], clients[1].get_primaries())):  # type: ignore[attr-defined]
        for node in nodes:
            where = {"target_nodes": node} if node is not None else {}
            for name in await redis.execute_command("FT._LIST", **where):
                if name.startswith(prefix):
                    await redis.execute_command("FT.DROPINDEX", name, "DD")
        await redis.aclose()


def _ids() -> list[str]:
    return [d["id"] for d in _docs()]


async def _both(stores: Pair, method: str, *args: Any, **kwargs: Any) -> Any:
    one = await getattr(stores[0].documents, method)(*args, **kwargs)
    many = await getattr(stores[1].documents, method)(*args, **kwargs)
    assert many == one, method
    return one


async def test_writes_and_reads_answer_as_a_single_redis(stores: Pair) -> None:
    one, many = stores
    written = await _both(stores, "upsert_many", _docs())
    assert all(not w.refused and w.created_at is None for w in written)
    # Written again: each keeps its first created_at.
    again = await _both(stores, "upsert_many", _docs(at=2000.0))
    assert {w.created_at for w in again} == {1000.0}
    ids = [*_ids(), "absent"]
    records = await _both(stores, "get_fields", ids, FIELDS)
    assert records[-1] is None and records[0]["namespace"] == NAMESPACES[0]
    full_one, full_many = await one.documents.get_many(ids), await many.documents.get_many(ids)
    assert [d and d["id"] for d in full_many] == [d and d["id"] for d in full_one]
    assert [d and d["embedding"] for d in full_many] == [d and d["embedding"] for d in full_one]
    await _both(stores, "facts", ids, dates=True, entities=True, roles=True)
    await _both(stores, "distances", ids, np.ones(DIMS, dtype=np.float32))
    found_one = sorted(i for ids in [x async for x in one.documents.scan_ids(7)] for i in ids)
    found_many = sorted(i for ids in [x async for x in many.documents.scan_ids(7)] for i in ids)
    assert found_many == found_one == sorted(_ids())
    # The memories sit in their namespaces' slots, spread over the primaries.
    keys = many.keys
    for doc in _docs():
        assert await many.redis.exists(keys.memory(doc["id"], doc.get("namespace"))) == 1
    nodes = {
        many.redis.get_node_from_key(keys.memory(i, d.get("namespace"))).name  # type: ignore[attr-defined]
        for d in _docs()
        for i in [d["id"]]
    }
    assert len(nodes) == 3


async def test_an_insert_writes_only_new_ids(stores: Pair) -> None:
    docs = _docs()
    await _both(stores, "upsert_many", docs[:10])
    assert await _both(stores, "insert_new", docs) == [False] * 10 + [True] * (len(docs) - 10)


async def test_hits_edits_and_deletes_answer_as_a_single_redis(stores: Pair) -> None:
    many = stores[1]
    await _both(stores, "upsert_many", _docs())
    ids = _ids()
    hits = {i: (n % 3 + 1, 1500.0 + n) for n, i in enumerate(ids[::3])}
    assert await _both(stores, "touch_many", {**hits, "absent": (1, 1.0)}, resolution=10.0) > 0
    counts = await _both(stores, "access_counts", [*ids, "absent"])
    assert sum(counts) == sum(n for n, _ in hits.values())
    records = await _both(stores, "get_fields", ids, FIELDS)
    assert [r["access_count"] for r in records] == counts[:-1]
    # Each namespace's hits are in its own hash on the cluster, none in the one hash.
    assert await many.redis.exists(many.keys.access_counts) == 0
    key = many.keys.memory(ids[0], NAMESPACES[0])
    assert int(await many.redis.hget(many.keys.access_counts_of(key), ids[0])) == hits[ids[0]][0]

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        return {**doc, "text": "changed", "updated_at": 3000.0}

    tokens = [many.keys.long_term_generation_of(many.keys.memory("x", ns)) for ns in NAMESPACES[:2]]
    before = [await many.redis.get(t) for t in tokens]
    written = await _both(stores, "modify", ids[0], change)
    assert written["text"] == "changed"
    after = [await many.redis.get(t) for t in tokens]
    assert after[0] != before[0] and after[1] == before[1]  # only its namespace's token
    assert await _both(stores, "modify", "absent", change) is None
    await _both(stores, "get_fields", ids, FIELDS)

    assert await _both(stores, "delete_many", [*ids[:9], ids[0], "absent"]) == 9
    assert await _both(stores, "get_many", ids[:9]) == [None] * 9
    assert sum(await _both(stores, "access_counts", ids[:9])) == 0  # their hits went too
    assert await many.redis.hget(many.keys.access_counts_of(key), ids[0]) is None
    await _both(stores, "get_fields", ids, FIELDS)


async def test_links_of_new_versions_answer_as_a_single_redis(stores: Pair) -> None:
    await _both(stores, "upsert_many", _docs())
    docs = _docs(at=4000.0)
    olds = [docs[1], docs[2], docs[-1]]  # two namespaces and none: MULTIs of three slots
    news = [{**d, "id": f"new-{d['id']}", "supersedes": [d["id"]]} for d in olds]
    links = [
        Link(
            d["id"],
            "superseded_by",
            f"new-{d['id']}",
            4000.0,
            d.get("namespace"),
            d.get("user_id"),
            4000.0,
        )
        for d in olds
    ]
    stray = Link(
        olds[0]["id"], "superseded_by", "x", None, "another", None, 4000.0
    )  # not its owner
    written = await _both(stores, "upsert_many", news, [*links, stray])
    assert [w.refused for w in written] == [False] * 3
    fields = ("superseded_by", "invalid_at", "updated_at", "supersedes")
    rows = await _both(stores, "get_fields", [d["id"] for d in olds + news], fields)
    assert [r["superseded_by"] for r in rows[:3]] == [[f"new-{d['id']}"] for d in olds]
    assert {r["invalid_at"] for r in rows[:3]} == {4000.0}


async def test_an_id_two_namespaces_hold_is_picked_by_the_callers_namespaces(
    stores: Pair,
) -> None:
    _, many = stores
    a, b = NAMESPACES[0], NAMESPACES[1]
    docs = [
        to_doc(MemoryRecord(id="shared", text=f"of {ns}", namespace=ns), np.ones(DIMS))
        for ns in (a, b)
    ]
    # On a cluster each namespace has its own key for the id: neither write is refused.
    assert [w.refused for w in await many.documents.upsert_many(docs)] == [False, False]
    documents = many.documents
    for ns in (a, b):
        (doc,) = await documents.get_fields(
            ["shared"], ("text",), within=lambda n, _, ns=ns: n == ns
        )
        assert doc == {"text": f"of {ns}"}
    (doc,) = await documents.get_fields(["shared"], ("text",), within=lambda n, _: n == "other")
    assert doc is None
    assert await documents.touch_many({"shared": (2, 1e10)}, within=lambda n, _: n == b) == 1
    assert await documents.access_counts(["shared"], within=lambda n, _: n == a) == [0]
    assert await documents.access_counts(["shared"], within=lambda n, _: n == b) == [2]
    assert await documents.delete_many(["shared"], within=lambda n, _: n == a) == 1
    assert await documents.get_fields(["shared"], ("text",)) == [{"text": f"of {b}"}]


async def test_scripts_a_primary_lost_are_loaded_again(stores: Pair) -> None:
    """After the scripts are loaded once, a primary that lost them (restarted, failed over)
    answers NOSCRIPT: a pipelined call is run again on its own, a MULTI is written again."""
    many = stores[1]
    docs = _docs()
    await many.documents.upsert_many(docs[:4])  # the scripts loaded on every primary
    await many.redis.script_flush()  # every primary  # type: ignore[misc]
    await many.documents.upsert_many(docs[4:])
    assert all(r is not None for r in await many.documents.get_fields(_ids(), ("text",)))
    await many.redis.script_flush()  # type: ignore[misc]
    new = {**docs[1], "id": "v2", "supersedes": [docs[1]["id"]]}
    link = Link(docs[1]["id"], "superseded_by", "v2", None, docs[1]["namespace"], None, 1.0)
    link = link._replace(user_id=docs[1].get("user_id"))
    assert [w.refused for w in await many.documents.upsert_many([new], [link])] == [False]
    (old,) = await many.documents.get_fields([docs[1]["id"]], ("superseded_by",))
    assert old == {"superseded_by": ["v2"]}
