"""A memory id belongs to one namespace and user: concurrent creators of one id from different
namespaces cannot take it over (the ownership check is atomic with the write)."""

from __future__ import annotations

import asyncio

import httpx

from remem.api.app import create_app
from remem.config import Settings
from remem.store.longterm import LongTermStore, Written
from tests.serving import served

LTM = "/v1/long-term-memory"
CREATORS = 10
TRIALS = 20


async def contend(client: httpx.AsyncClient) -> None:
    """TRIALS rounds of CREATORS concurrent creators of one id, each from its own namespace."""
    for trial in range(TRIALS):
        memory_id = f"shared-{trial}"
        replies = await asyncio.gather(
            *(
                client.post(
                    f"{LTM}/",
                    json={
                        "memories": [
                            {
                                "id": memory_id,
                                "text": f"secret {trial} of tenant {n}",
                                "namespace": f"t{n}",
                            }
                        ]
                    },
                )
                for n in range(CREATORS)
            )
        )
        statuses = [r.status_code for r in replies]
        assert sorted(statuses) == [200] + [409] * (CREATORS - 1), (trial, statuses)
        winner = statuses.index(200)
        stored = (await client.get(f"{LTM}/{memory_id}")).json()
        assert (stored["namespace"], stored["text"]) == (
            f"t{winner}",
            f"secret {trial} of tenant {winner}",
        )
        for r in replies:
            if r.status_code == 409:
                assert memory_id in r.json()["detail"]


async def test_concurrent_creators_of_one_id_exactly_one_wins(client: httpx.AsyncClient) -> None:
    await contend(client)


async def test_concurrent_creators_over_http_exactly_one_wins(settings: Settings) -> None:
    async with served(create_app(settings)) as url:
        limits = httpx.Limits(max_connections=CREATORS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            await contend(client)


async def test_a_refused_id_writes_nothing_of_its_request(client: httpx.AsyncClient) -> None:
    """Sequentially the whole request is refused before anything is written."""
    r = await client.post(
        f"{LTM}/", json={"memories": [{"id": "x", "text": "a", "namespace": "a"}]}
    )
    assert r.status_code == 200
    r = await client.post(
        f"{LTM}/",
        json={
            "memories": [
                {"id": "y", "text": "b", "namespace": "b"},
                {"id": "x", "text": "b", "namespace": "b"},
            ]
        },
    )
    assert r.status_code == 409 and "'x'" in r.json()["detail"]
    assert (await client.get(f"{LTM}/y")).status_code == 404
    assert (await client.get(f"{LTM}/x")).json()["namespace"] == "a"


async def test_patch_moves_a_memory_to_another_namespace(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{LTM}/", json={"memories": [{"id": "m", "text": "a", "namespace": "a"}]}
    )
    assert r.status_code == 200
    r = await client.patch(f"{LTM}/m", json={"namespace": "b"})
    assert r.status_code == 200 and r.json()["namespace"] == "b"
    # now owned by b: a create from a is a conflict, from b an update
    r = await client.post(
        f"{LTM}/", json={"memories": [{"id": "m", "text": "z", "namespace": "a"}]}
    )
    assert r.status_code == 409
    r = await client.post(
        f"{LTM}/", json={"memories": [{"id": "m", "text": "z", "namespace": "b"}]}
    )
    assert r.status_code == 200
    assert (await client.get(f"{LTM}/m")).json()["text"] == "z"


async def test_the_upsert_refuses_only_a_document_owned_by_another_scope(
    store: LongTermStore,
) -> None:
    await store.documents.upsert_many(
        [
            {"id": "x", "text": "a", "namespace": "ns/ü", "created_at": 1.0},
            {"id": "bare", "text": "no namespace or user field"},
            {"id": "odd", "text": "edited by hand", "namespace": "5 "},
        ]
    )
    written = await store.documents.upsert_many(
        [
            {"id": "y", "text": "b", "namespace": "b", "created_at": 2.0},
            {"id": "x", "text": "b", "namespace": "b", "created_at": 2.0},
            {"id": "x", "text": "b", "namespace": "ns/ü", "user_id": "u", "created_at": 2.0},
            {"id": "bare", "text": "c", "namespace": None, "user_id": None, "created_at": 3.0},
            {"id": "odd", "text": "c", "namespace": "5", "created_at": 3.0},
        ]
    )
    assert written == [
        Written(None),
        Written(None, refused=True),
        Written(None, refused=True),
        Written(None),
        Written(None, refused=True),
    ]
    x, y, bare = await store.documents.get_many(["x", "y", "bare"])
    assert x is not None and (x["text"], x["namespace"]) == ("a", "ns/ü")
    assert y is not None and bare is not None and bare["text"] == "c"
    [again] = await store.documents.upsert_many(
        [{"id": "x", "text": "new", "namespace": "ns/ü", "user_id": None, "created_at": 9.0}]
    )
    assert again == Written(1.0)  # the same owner updates, keeping created_at
