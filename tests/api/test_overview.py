"""The console's overview routes over the real app and Redis (auth off: the local admin):
``GET /v1/namespaces`` counts, sorts and pages; bad paging is a 422 saying which parameter."""

from __future__ import annotations

import httpx
import pytest


async def seed(client: httpx.AsyncClient) -> None:
    for ns, user in (("zeta", "u1"), ("alpha", "u1"), ("alpha", "u2"), (None, "u3")):
        body: dict[str, object] = {"messages": [{"role": "user", "content": "hi"}], "user_id": user}
        if ns:
            body["namespace"] = ns
        r = await client.put(f"/v1/working-memory/s-{user}", json=body)
        assert r.status_code == 200, r.text
    memories = [
        {"id": "m1", "text": "one", "namespace": "mid"},
        {"id": "m2", "text": "two", "namespace": "alpha"},
        {"id": "m3", "text": "three"},
    ]
    r = await client.post("/v1/long-term-memory/", json={"memories": memories})
    assert r.status_code == 200, r.text


async def test_namespaces_are_counted_sorted_and_paged(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/namespaces")).json() == {"namespaces": [], "total": 0}
    await seed(client)
    r = await client.get("/v1/namespaces")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "namespaces": [
            {"name": "alpha", "sessions": 2, "memories": 1},
            {"name": "mid", "sessions": 0, "memories": 1},
            {"name": "zeta", "sessions": 1, "memories": 0},
        ],
        "total": 3,
    }
    page = (await client.get("/v1/namespaces", params={"limit": 1, "offset": 1})).json()
    assert page == {"namespaces": [{"name": "mid", "sessions": 0, "memories": 1}], "total": 3}
    past = (await client.get("/v1/namespaces", params={"offset": 10})).json()
    assert past == {"namespaces": [], "total": 3}
    await client.delete("/v1/working-memory/s-u1", params={"namespace": "zeta"})
    names = [n["name"] for n in (await client.get("/v1/namespaces")).json()["namespaces"]]
    assert names == ["alpha", "mid"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": -1}, "limit"), ({"limit": 10**9}, "limit"), ({"offset": "x"}, "offset")],
)
async def test_bad_paging_is_a_clear_422(
    client: httpx.AsyncClient, params: dict[str, object], field: str
) -> None:
    r = await client.get("/v1/namespaces", params=params)
    assert r.status_code == 422, r.text
    assert field in r.text
