"""What the web console asks of the API (``console/static/api.js``: sessions, a session, search,
a memory and its history, a deletion, the audit log, namespaces, background work and tokens),
asked of an app on a Redis Cluster as the console asks it, over several namespaces on
different primaries. The console is static files over these routes: the browser tests
(tests/console) drive its pages on a single Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.connection import open_redis
from remem.store.keys import Keys
from tests.cluster.conftest import spread_namespaces

KEY = "console-" + "k" * 32


async def test_every_console_call_on_a_cluster(cluster_settings: Settings, redis: Redis) -> None:
    namespaces = await spread_namespaces(redis, per_primary=1)
    settings = cluster_settings.model_copy(
        update={"auth_mode": "token", "token_hash_key": SecretStr(KEY)}
    )
    client = await open_redis(settings.redis_url or "", timeout=5, max_connections=4)
    try:
        tokens = TokenStore(client, Keys(settings.key_prefix, cluster=True), KEY)
        admin, _ = await tokens.create(["*"], role="admin")
        reader, reader_info = await tokens.create([namespaces[0]], role="read")
    finally:
        await client.aclose()
    app = create_app(settings)
    bearer = {"Authorization": f"Bearer {admin}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://remem", headers=bearer
        ) as http,
    ):
        for ns in namespaces:
            said = [{"role": "user", "content": f"I keep bees in {ns}"}]
            r = await http.put("/v1/working-memory/s1", json={"namespace": ns, "messages": said})
            assert r.status_code == 200, r.text
            memory = {"id": f"m-{ns}", "text": f"keeps bees in {ns}", "namespace": ns}
            r = await http.post("/v1/long-term-memory/", json={"memories": [memory]})
            assert r.status_code == 200, r.text

        listed = (await http.get("/v1/working-memory/", params={"limit": 50})).json()
        assert listed["total"] == len(namespaces)
        for ns in namespaces:
            r = await http.get("/v1/working-memory/s1", params={"namespace": ns})
            assert r.status_code == 200 and r.json()["messages"][0]["content"].endswith(ns)

        found: list[dict[str, Any]] = []
        for _ in range(50):  # the memories are indexed as they are written
            r = await http.post("/v1/long-term-memory/search", json={"text": "bees", "limit": 50})
            assert r.status_code == 200, r.text
            found = r.json()["memories"]
            if len(found) == len(namespaces):
                break
            await asyncio.sleep(0.1)
        assert sorted(m["id"] for m in found) == sorted(f"m-{ns}" for ns in namespaces)

        first = f"m-{namespaces[0]}"
        assert (
            (await http.get(f"/v1/long-term-memory/{first}")).json()["text"].endswith(namespaces[0])
        )
        versions = (await http.get(f"/v1/long-term-memory/{first}/history")).json()
        assert [v["id"] for v in versions["versions"]] == [first]
        r = await http.delete("/v1/long-term-memory", params={"memory_ids": first})
        assert r.status_code == 200, r.text
        assert (await http.get(f"/v1/long-term-memory/{first}")).status_code == 404

        named = (await http.get("/v1/namespaces")).json()
        assert sorted(n["name"] for n in named["namespaces"]) == namespaces
        tasks = await http.get("/v1/tasks")
        assert tasks.status_code == 200, tasks.text
        assert "due" in tasks.json()
        listed_tokens = (await http.get("/v1/tokens")).json()
        assert reader_info.id in {t["id"] for t in listed_tokens}
        r = await http.delete(f"/v1/tokens/{reader_info.id}")
        assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
        refused = await http.get("/v1/namespaces", headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 401
        audit = (await http.get("/v1/audit", params={"limit": 20})).json()
        assert any(entry.get("action") == "token.revoke" for entry in audit), audit
