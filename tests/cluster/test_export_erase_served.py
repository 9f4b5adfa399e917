"""Export and erase through ``remem serve``'s app on a Redis Cluster: a user's sessions and
memories in namespaces on every primary are exported as one JSON Lines stream, then erased in
one call, another user's data left."""

from __future__ import annotations

import json

import httpx
from redis.asyncio import Redis

from remem.api.app import create_app
from remem.config import Settings
from tests.cluster.conftest import spread_namespaces
from tests.serving import served


async def _write(http: httpx.AsyncClient, namespaces: list[str], user: str) -> None:
    for n, ns in enumerate(namespaces):
        body = {"namespace": ns, "user_id": user, "messages": [{"role": "user", "content": "hi"}]}
        r = await http.put(f"/v1/working-memory/{user}-chat", json=body)
        assert r.status_code == 200, r.text
        memory = {"id": f"{user}-{n}", "text": f"{user} likes {ns}", "namespace": ns}
        made = await http.post(
            "/v1/long-term-memory/", json={"memories": [{**memory, "user_id": user}]}
        )
        assert made.status_code == 200, made.text


async def _export(http: httpx.AsyncClient, user: str) -> tuple[list[dict], list[dict]]:
    r = await http.get("/v1/export", params={"user_id": user})
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[0]["format"] == "remem-memories"
    sessions = [line for line in lines[1:] if line.get("kind") == "working_memory"]
    return sessions, [line for line in lines[1:] if "kind" not in line]


async def test_a_users_export_and_erase_over_every_primary(
    cluster_settings: Settings, redis: Redis
) -> None:
    namespaces = await spread_namespaces(redis, per_primary=1)
    app = create_app(cluster_settings.model_copy(update={"run_worker": False}))
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        await _write(http, namespaces, "ada")
        await _write(http, namespaces, "bob")
        sessions, memories = await _export(http, "ada")
        assert sorted(s["namespace"] for s in sessions) == namespaces
        assert sorted(m["id"] for m in memories) == [f"ada-{n}" for n in range(len(namespaces))]
        assert {m["user_id"] for m in memories} == {"ada"}

        r = await http.post("/v1/erasures", json={"user_id": "ada"})
        assert r.status_code == 200, r.text
        counts = r.json()["counts"]
        assert counts["working_memory_sessions"] == len(namespaces)
        assert counts["long_term_memories"] == len(namespaces)
        assert await _export(http, "ada") == ([], [])
        sessions, memories = await _export(http, "bob")
        assert len(sessions) == len(namespaces) == len(memories)
        found = await http.post("/v1/long-term-memory/search", json={"text": "likes"})
        assert sorted(m["id"] for m in found.json()["memories"]) == [
            f"bob-{n}" for n in range(len(namespaces))
        ]
