"""Long-term memory over HTTP: bad input is a clear 4xx and stores nothing; hostile ids and tags
round-trip and filter exactly (the real app, the bundled embedding model, the embedded Redis)."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from remem.runtime import Resources
from tests.helpers import HOSTILE_IDS

LTM = "/v1/long-term-memory"


async def stored(client: httpx.AsyncClient) -> int:
    r = await client.post(f"{LTM}/search", json={"text": "", "limit": 1})
    assert r.status_code == 200, r.text
    total: int = r.json()["total"]
    return total


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b'{"memories": "nope"}',
        b'{"memories": [{"id": "a"}]}',
        b'{"memories": [{"id": "a", "text": "t", "memory_type": "dream"}]}',
        b'{"memories": [{"id": "a", "text": "t", "topics": "not a list"}]}',
        b'{"memories": [{"id": "a", "text": "t"}], "deduplicate": "maybe"}',
        b'{"memories": [{"id": "a", "text": "t", "event_date": "last week"}]}',
    ],
)
async def test_bad_create_bodies_are_422_and_store_nothing(
    client: httpx.AsyncClient, payload: bytes
) -> None:
    r = await client.post(f"{LTM}/", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "detail" in r.json()
    assert await stored(client) == 0


async def test_empty_text_is_400_and_stores_nothing(client: httpx.AsyncClient) -> None:
    good = {"id": "fine", "text": "a fine memory"}
    r = await client.post(f"{LTM}/", json={"memories": [good, {"id": "blank", "text": "  "}]})
    assert r.status_code == 400, r.text
    assert "blank" in r.json()["detail"]
    assert await stored(client) == 0  # the batch is refused whole


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"text": "x", "limit": "ten"}',
        b'{"text": "x", "limit": 0}',
        b'{"text": "x", "offset": -1}',
        b'{"text": "x", "search_mode": "psychic"}',
        b'{"text": "x", "distance_threshold": 7}',
        b'{"text": "x", "namespace": {"eq": 5}}',
        b'{"text": "x", "created_at": {"gt": "yesterday-ish"}}',
    ],
)
async def test_bad_searches_are_422(client: httpx.AsyncClient, payload: bytes) -> None:
    r = await client.post(
        f"{LTM}/search", content=payload, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert "detail" in r.json()


async def test_huge_body_is_413(client: httpx.AsyncClient, resources: Resources) -> None:
    limit = resources.settings.max_body_bytes
    big = {"memories": [{"id": "huge", "text": "x" * (limit + 10)}]}
    r = await client.post(f"{LTM}/", json=big)
    assert r.status_code == 413
    assert await stored(client) == 0


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{LTM}/nobody")
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    r = await client.patch(f"{LTM}/nobody", json={"text": "new"})
    assert r.status_code == 404
    r = await client.delete(LTM, params={"memory_ids": ["nobody"]})
    assert r.json() == {"status": "ok, deleted 0 memories"}


async def test_bad_patches_are_4xx_and_change_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{LTM}/", json={"memories": [{"id": "m", "text": "likes tea"}]})
    assert r.status_code == 200
    before = (await client.get(f"{LTM}/m")).json()
    for payload, status in (
        (b"{not json", 422),
        (b"{}", 400),
        (b'{"text": null}', 422),
        (b'{"pinned": "sometimes"}', 422),
        (b'{"text": "   "}', 400),
    ):
        r = await client.patch(
            f"{LTM}/m", content=payload, headers={"content-type": "application/json"}
        )
        assert r.status_code == status, (payload, r.text)
    assert (await client.get(f"{LTM}/m")).json() == before


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_hostile_ids_and_tags_round_trip_and_filter_exactly(
    client: httpx.AsyncClient, hostile: str
) -> None:
    memory = {
        "id": hostile,
        "text": "the user prefers green tea in the morning",
        "namespace": hostile,
        "user_id": hostile,
        "topics": [hostile, "drinks"],
        "entities": [hostile],
    }
    other = dict(memory, id=hostile + "-other", namespace=hostile + "x", topics=["drinks"])
    r = await client.post(f"{LTM}/", json={"memories": [memory, other], "deduplicate": False})
    assert r.status_code == 200, r.text

    got = await client.get(f"{LTM}/{quote(hostile, safe='')}")
    assert got.status_code == 200, got.text
    doc = got.json()
    assert (doc["id"], doc["namespace"], doc["user_id"]) == (hostile, hostile, hostile)
    assert doc["topics"] == [hostile, "drinks"] and doc["entities"] == [hostile]

    for mode in ("semantic", "keyword", "hybrid"):
        found = await client.post(
            f"{LTM}/search",
            json={
                "text": "green tea",
                "search_mode": mode,
                "namespace": {"eq": hostile},
                "topics": {"any": [hostile]},
                "entities": {"all": [hostile]},
            },
        )
        assert found.status_code == 200, found.text
        assert [m["id"] for m in found.json()["memories"]] == [hostile], mode
        assert found.json()["total"] == 1
    # The near miss in the other namespace is found by its own namespace only.
    near = await client.post(
        f"{LTM}/search", json={"text": "green tea", "namespace": {"eq": hostile + "x"}}
    )
    assert [m["id"] for m in near.json()["memories"]] == [hostile + "-other"]

    r = await client.delete(LTM, params={"memory_ids": [hostile]})
    assert r.json() == {"status": "ok, deleted 1 memories"}
    assert (await client.get(f"{LTM}/{quote(hostile, safe='')}")).status_code == 404
