"""Promotion: memories put into working memory become long-term memories, scope and ids kept,
marked persisted by a patch that never loses a concurrent write."""

from __future__ import annotations

import asyncio

import httpx

from tests.helpers import wait_until
from tests.lifecycle.conftest import search


async def _session(http: httpx.AsyncClient, sid: str, ns: str, user: str) -> dict:
    r = await http.get(f"/v1/working-memory/{sid}", params={"namespace": ns, "user_id": user})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_promotion_keeps_ids_and_scope(app_client: httpx.AsyncClient) -> None:
    """A memory without scope takes the session's namespace, user and id; one that names its
    own keeps it; both keep their ids, and the working memory shows them persisted."""
    body = {
        "namespace": "ns1",
        "user_id": "alice",
        "memories": [
            {"id": "pref-1", "text": "Alice prefers window seats"},
            {"id": "pref-2", "text": "Alice is vegetarian", "session_id": "other-chat"},
        ],
    }
    assert (await app_client.put("/v1/working-memory/chat-1", json=body)).status_code == 200

    async def both() -> list[dict]:
        found = await search(app_client, "Alice", namespace="ns1")
        return found if len(found) == 2 else []

    found = {m["id"]: m for m in await wait_until(both, timeout=10)}
    assert set(found) == {"pref-1", "pref-2"}
    assert [found["pref-1"][k] for k in ("namespace", "user_id", "session_id")] == [
        "ns1",
        "alice",
        "chat-1",
    ]
    assert found["pref-2"]["session_id"] == "other-chat"
    assert found["pref-2"]["user_id"] == "alice"

    async def persisted() -> bool:
        doc = await _session(app_client, "chat-1", "ns1", "alice")
        return all(m["persisted_at"] for m in doc["memories"])

    await wait_until(persisted, timeout=10)


async def test_put_again_unmarked_adds_no_copy(app_client: httpx.AsyncClient) -> None:
    """A client PUTting its stale copy (persisted_at empty again) is promoted again into the
    same memory: one long-term memory per id."""
    body = {
        "namespace": "ns2",
        "user_id": "bob",
        "memories": [{"id": "m", "text": "Bob owns a cat"}],
    }
    for _ in range(3):
        assert (await app_client.put("/v1/working-memory/c", json=body)).status_code == 200

        async def persisted() -> bool:
            doc = await _session(app_client, "c", "ns2", "bob")
            return bool(doc["memories"][0]["persisted_at"])

        await wait_until(persisted, timeout=10)
    assert [m["id"] for m in await search(app_client, "cat", namespace="ns2")] == ["m"]


async def test_many_writers_racing_promotion_and_extraction_lose_nothing(
    app_client: httpx.AsyncClient,
) -> None:
    """Eight writers append messages while another PUTs a growing list of memories, and the
    worker promotes and extracts all along: every message and memory written is in the
    session at the end, each is in long-term memory exactly once, and all end up marked."""
    ns, user, sid = "race", "carol", "busy"
    writers, each = 8, 20
    memories: list[dict] = []

    async def appender(w: int) -> None:
        for i in range(each):
            message = {"role": "user", "content": f"writer {w} says number {i}", "id": f"w{w}-{i}"}
            body = {"messages": [message], "namespace": ns, "user_id": user}
            r = await app_client.post(f"/v1/working-memory/{sid}/messages", json=body)
            assert r.status_code == 200, r.text
            await asyncio.sleep(0)

    async def putter() -> None:
        for i in range(each):
            # The PUT carries what the session holds now plus one memory, as a client would
            # (the messages it read, which the appenders keep adding to).
            doc = await _session(app_client, sid, ns, user) if i else {"messages": []}
            memories.append({"id": f"fact-{i}", "text": f"Carol fact number {i}"})
            body = {
                "namespace": ns,
                "user_id": user,
                "messages": doc["messages"],
                "memories": [*(m for m in doc.get("memories", [])), memories[-1]],
            }
            r = await app_client.put(f"/v1/working-memory/{sid}", json=body)
            assert r.status_code == 200, r.text

    await putter_first(app_client, ns, user, sid)
    await asyncio.gather(putter(), *(appender(w) for w in range(writers)))

    # What the session holds now is what the writers left: the last PUT replaced the whole
    # document (PUT semantics), the appends after it are kept. None may be lost to a mark.
    doc = await _session(app_client, sid, ns, user)
    ids = [m["id"] for m in doc["messages"]]
    assert len(ids) == len(set(ids))
    assert {m["id"] for m in doc["memories"]} == {m["id"] for m in memories}

    async def settled() -> dict | None:
        now = await _session(app_client, sid, ns, user)
        done = all(m["discrete_memory_extracted"] == "t" for m in now["messages"]) and all(
            m["persisted_at"] for m in now["memories"]
        )
        return now if done else None

    final = await wait_until(settled, timeout=30)
    assert [m["id"] for m in final["messages"]] == ids  # the marks changed no message list
    assert {m["id"] for m in final["memories"]} == {m["id"] for m in memories}
    stored = await search(app_client, "Carol fact number", namespace=ns, memory_type="semantic")
    assert sorted(m["id"] for m in stored) == sorted(m["id"] for m in memories)
    said = await _all_episodic(app_client, ns)
    extracted = [m["extracted_from"][0] for m in said]
    assert len(extracted) == len(set(extracted))  # one memory per message, no copy
    assert set(ids) <= set(extracted)


async def putter_first(http: httpx.AsyncClient, ns: str, user: str, sid: str) -> None:
    body = {"namespace": ns, "user_id": user, "messages": [], "memories": []}
    assert (await http.put(f"/v1/working-memory/{sid}", json=body)).status_code == 200


async def _all_episodic(http: httpx.AsyncClient, ns: str) -> list[dict]:
    r = await http.post(
        "/v1/long-term-memory/search",
        json={
            "text": "",
            "limit": 1000,
            "namespace": {"eq": ns},
            "memory_type": {"eq": "episodic"},
        },
    )
    assert r.status_code == 200, r.text
    return list(r.json()["memories"])


async def test_an_id_owned_elsewhere_does_not_hold_back_the_others(
    app_client: httpx.AsyncClient,
) -> None:
    """A memory whose id another user owns cannot be promoted (it stays unpersisted, the
    owner's memory untouched); the session's other memories are promoted all the same."""
    owned = {"memories": [{"id": "taken", "text": "Eve's secret", "user_id": "eve"}]}
    assert (await app_client.post("/v1/long-term-memory/", json=owned)).status_code == 200
    body = {
        "namespace": "ns3",
        "user_id": "dan",
        "memories": [
            {"id": "taken", "text": "Dan's overwrite attempt"},
            {"id": "mine", "text": "Dan collects stamps"},
        ],
    }
    assert (await app_client.put("/v1/working-memory/d", json=body)).status_code == 200

    async def promoted() -> dict | None:
        doc = await _session(app_client, "d", "ns3", "dan")
        marks = {m["id"]: m["persisted_at"] for m in doc["memories"]}
        return marks if marks["mine"] else None

    marks = await wait_until(promoted, timeout=10)
    assert marks["taken"] is None
    assert [m["id"] for m in await search(app_client, "stamps", namespace="ns3")] == ["mine"]
    kept = (await app_client.get("/v1/long-term-memory/taken")).json()
    assert (kept["text"], kept["user_id"]) == ("Eve's secret", "eve")
