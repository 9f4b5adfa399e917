"""Token auth, namespace counts and rate limits of ``remem serve``'s app on a Redis Cluster: the
auth keys share the ``{auth}`` tag (one primary holds every token), a caller's rate limit is one
key in its own slot, ``GET /v1/namespaces`` adds up every primary's counts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.connection import open_redis
from remem.store.keys import Keys
from tests.cluster.conftest import spread_namespaces

KEY = "cluster-" + "k" * 32


@pytest.fixture
async def tokens(cluster_settings: Settings) -> AsyncIterator[TokenStore]:
    client = await open_redis(cluster_settings.redis_url or "", timeout=5, max_connections=4)
    try:
        yield TokenStore(client, Keys(cluster_settings.key_prefix, cluster=True), KEY)
    finally:
        await client.aclose()


async def test_tokens_scope_counts_and_revocation(
    cluster_settings: Settings, tokens: TokenStore, redis: Redis
) -> None:
    """A token scoped to a prefix sees the namespaces of every primary it matches, with their
    counts; its writes outside its scope are refused; once revoked it opens nothing."""
    namespaces = await spread_namespaces(redis, per_primary=1)  # "team <i>/x"
    token, info = await tokens.create(["team*"], role="write")
    on = cluster_settings.model_copy(
        update={"auth_mode": "token", "token_hash_key": SecretStr(KEY)}
    )
    app = create_app(on)
    bearer = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            assert (await http.get("/v1/namespaces")).status_code == 401
            for n, ns in enumerate(namespaces):
                for s in range(n + 1):
                    body = {"namespace": ns, "messages": [{"role": "user", "content": "hi"}]}
                    r = await http.put(f"/v1/working-memory/s{s}", json=body, headers=bearer)
                    assert r.status_code == 200, r.text
            other = {"namespace": "elsewhere", "messages": []}
            r = await http.put("/v1/working-memory/x", json=other, headers=bearer)
            assert r.status_code == 403, r.text
            r = await http.get("/v1/namespaces", headers=bearer)
            assert r.status_code == 200, r.text
            listed = {n["name"]: n for n in r.json()["namespaces"]}
            assert sorted(listed) == namespaces and r.json()["total"] == len(namespaces)
            assert [listed[ns]["sessions"] for ns in namespaces] == [1, 2, 3]
            await tokens.revoke(info.id)
            assert (await http.get("/v1/namespaces", headers=bearer)).status_code == 401


async def test_a_callers_rate_limit_holds(cluster_settings: Settings) -> None:
    limited = cluster_settings.model_copy(update={"rate_limit_per_minute": 3})
    app = create_app(limited)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            answers = [(await http.get("/v1/working-memory/")).status_code for _ in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[-1] == 429
