"""Ids with ``/`` work like any other printable id: the routes take the rest of the path as the
id (``{session_id:path}``), so ``a/b`` and ``a%2Fb`` name the same session, and the listing,
``.../messages``, ``search``, ``forget`` and ``compact`` still route where they did."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import served

LTM = "/v1/long-term-memory"
WM = "/v1/working-memory"
SLASHED = ["a/b", "/lead", "trail/", "x/messages", "a//b", "/", "search/x", "messages"]


@pytest.mark.parametrize("session_id", SLASHED)
@pytest.mark.parametrize("encoded", [True, False], ids=["%2F", "raw"])
async def test_a_session_id_with_a_slash_round_trips(
    client: httpx.AsyncClient, session_id: str, encoded: bool
) -> None:
    path = f"{WM}/{quote(session_id, safe='' if encoded else '/')}"
    put = await client.put(path, json={"namespace": "n", "context": "c"})
    assert put.status_code == 200, put.text
    assert put.json()["session_id"] == session_id
    got = await client.get(path, params={"namespace": "n"})
    assert got.status_code == 200, got.text
    assert (got.json()["session_id"], got.json()["context"]) == (session_id, "c")
    message = {"role": "user", "content": "hello"}
    appended = await client.post(f"{path}/messages", json={"messages": [message], "namespace": "n"})
    assert appended.status_code == 200, appended.text
    assert appended.json()["session_id"] == session_id
    assert [m["content"] for m in appended.json()["messages"]] == ["hello"]
    listed = await client.get(f"{WM}/", params={"namespace": "n"})
    assert listed.json()["sessions"] == [session_id]
    assert (await client.delete(path, params={"namespace": "n"})).status_code == 200
    assert (await client.get(path, params={"namespace": "n"})).status_code == 404


@pytest.mark.parametrize("memory_id", SLASHED)
@pytest.mark.parametrize("encoded", [True, False], ids=["%2F", "raw"])
async def test_a_memory_id_with_a_slash_round_trips(
    client: httpx.AsyncClient, memory_id: str, encoded: bool
) -> None:
    r = await client.post(f"{LTM}/", json={"memories": [{"id": memory_id, "text": "slashed"}]})
    assert r.status_code == 200, r.text
    path = f"{LTM}/{quote(memory_id, safe='' if encoded else '/')}"
    got = await client.get(path)
    assert got.status_code == 200, got.text
    assert got.json()["id"] == memory_id
    patched = await client.patch(path, json={"topics": ["t"]})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["id"], patched.json()["topics"]) == (memory_id, ["t"])
    deleted = await client.delete(LTM, params={"memory_ids": [memory_id]})
    assert deleted.json()["status"] == "ok, deleted 1 memories"
    assert (await client.get(path)).status_code == 404


async def test_the_fixed_routes_still_route(client: httpx.AsyncClient) -> None:
    assert (await client.put(f"{WM}/s", json={})).status_code == 200
    assert (await client.get(f"{WM}/")).json() == {"sessions": ["s"], "total": 1}
    assert (await client.get(WM)).json() == {"sessions": ["s"], "total": 1}
    r = await client.post(f"{LTM}/", json={"memories": [{"id": "m", "text": "routes"}]})
    assert r.status_code == 200
    assert (await client.post(f"{LTM}/search", json={"text": "routes"})).json()["total"] == 1
    assert (await client.post(f"{LTM}/forget", params={"dry_run": True})).status_code == 200
    assert (await client.post(f"{LTM}/compact")).status_code == 200


async def test_slashed_ids_over_real_http(settings: Settings) -> None:
    """uvicorn decodes ``%2F`` before routing, as ASGI says; the id still arrives whole."""
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        for session_id in ("a/b", "/lead", "trail/"):
            path = f"{WM}/{quote(session_id, safe='')}"
            assert (await http.put(path, json={})).json()["session_id"] == session_id
            assert (await http.get(path)).json()["session_id"] == session_id
