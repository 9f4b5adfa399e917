"""The console's overview routes over the real app and Redis (auth off: the local admin):
``GET /v1/namespaces`` counts, sorts and pages; ``GET /v1/tasks`` shows due work;
``GET /v1/tokens`` lists and ``DELETE`` revokes (token auth on); bad paging is a 422 saying
which parameter."""

from __future__ import annotations

import json

import httpx
import pytest
import redis.asyncio
from pydantic import SecretStr

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from remem.tasks.status import describe

KEY = "overview-" + "k" * 32


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


async def test_tasks_show_the_due_work_and_the_queue(client: httpx.AsyncClient) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "user_id": "u/1", "namespace": "n s"}
    assert (await client.put("/v1/working-memory/s-1", json=body)).status_code == 200
    r = await client.get("/v1/tasks", params={"limit": 5})
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == {"due", "queued", "running", "scheduled", "workers", "failed"}
    mine = [w for w in got["due"]["next"] if w.get("session_id") == "s-1"]
    assert mine and mine[0]["namespace"] == "n s" and mine[0]["user_id"] == "u/1"
    assert mine[0]["kind"] == "extract" and mine[0]["due_at"]
    assert got["due"]["members"] >= 1 and isinstance(got["queued"], int)
    assert len(got["due"]["next"]) <= 5


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"limit": "many"}])
async def test_tasks_refuse_a_bad_limit(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    r = await client.get("/v1/tasks", params=params)
    assert r.status_code == 422 and "limit" in r.text, r.text


def test_task_keys_are_read_into_their_parts() -> None:
    keys = Keys("p:")
    session = keys.working_memory("s:1", "u/1", "n {s}")
    want = {"namespace": "n {s}", "user_id": "u/1", "session_id": "s:1", "name": None}

    def parts(key: str) -> dict[str, object]:
        return describe(key, keys).model_dump()

    assert parts(f"extract:{session}") == {"kind": "extract", **want}
    assert parts(f"summarize:4096:{session}") == {"kind": "summarize", **want}
    none = {"namespace": None, "user_id": None, "session_id": None}
    assert parts("periodic:compact") == {"kind": "periodic", "name": "compact", **none}
    assert parts("view:t-1") == {"kind": "view", "name": "t-1", **none}
    assert parts("newer:thing") == {"kind": "newer", "name": None, **none}


async def test_tokens_are_listed_without_secrets_and_revoked(settings: Settings) -> None:
    """With token auth on: the admin lists tokens (no secret, no hash) and revokes one, which
    is refused from then on and recorded in the audit log."""
    on = settings.model_copy(update={"auth_mode": "token", "token_hash_key": SecretStr(KEY)})
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(client, Keys(settings.key_prefix), KEY)
        admin, _ = await store.create(["*"], role="admin")
        tenant, info = await store.create(["team-a"], role="write", user_id="ann")
        app = create_app(on)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                as_admin = {"Authorization": f"Bearer {admin}"}
                r = await http.get("/v1/tokens", headers=as_admin)
                assert r.status_code == 200, r.text
                assert admin not in r.text and tenant not in r.text
                digests = await client.hvals(Keys(settings.key_prefix).auth_tokens)
                assert digests and not any(d in r.text for d in digests)
                mine = [t for t in r.json() if t["id"] == info.id]
                assert mine == [
                    {
                        "id": info.id,
                        "namespaces": ["team-a"],
                        "role": "write",
                        "user_id": "ann",
                        "status": "active",
                        "created_at": mine[0]["created_at"],
                        "expires_at": None,
                        "revoked_at": None,
                    }
                ]
                as_tenant = {"Authorization": f"Bearer {tenant}"}
                assert (await http.get("/v1/tokens", headers=as_tenant)).status_code == 403
                r = await http.delete(f"/v1/tokens/{info.id}", headers=as_admin)
                assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
                assert (await http.get("/v1/namespaces", headers=as_tenant)).status_code == 401
                log = (await http.get("/v1/audit", headers=as_admin)).json()
                assert any(e["action"] == "token.revoke" and info.id in json.dumps(e) for e in log)
                r = await http.delete("/v1/tokens/000000000000", headers=as_admin)
                assert r.status_code == 404, r.text
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("scope", "names"),
    [
        (["alpha"], ["alpha"]),
        (["a*"], ["alpha"]),
        (["m*", "zeta"], ["mid", "zeta"]),
        (["nothing*"], []),
        (["ghost"], []),
    ],
)
async def test_a_tokens_scope_is_asked_of_the_engine(
    client: httpx.AsyncClient, settings: Settings, scope: list[str], names: list[str]
) -> None:
    """Exact names and prefixes, also ones that match nothing (no query is sent then)."""
    await seed(client)
    on = settings.model_copy(update={"auth_mode": "token", "token_hash_key": SecretStr(KEY)})
    redis_client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        token, _ = await TokenStore(redis_client, Keys(settings.key_prefix), KEY).create(scope)
    finally:
        await redis_client.aclose()
    app = create_app(on)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            r = await http.get("/v1/namespaces", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert [n["name"] for n in r.json()["namespaces"]] == names
    assert r.json()["total"] == len(names)
