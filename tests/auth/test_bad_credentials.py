"""Every guarded route (REST and the MCP transport), with each kind of credential that must not
hold, answers 401 with a reason before anything runs: real API tokens that expired or were
revoked, and forged JWTs against a real JWKS (wrong key, wrong issuer, wrong audience,
``alg: none``, expired, HS256 keyed with the public key). ``test_coverage.guarded_routes`` lists
the routes, so a route added later is tried here too."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from remem.api.app import create_app
from remem.app import build_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.auth.test_coverage import guarded_routes
from tests.auth.test_jwt import (  # noqa: F401  (the fixtures are used by name)
    AUDIENCE,
    ISSUER,
    Issuer,
    claims,
    hs256_with_public_key,
    issuer,
    jwt_settings,
    unsigned,
)
from tests.serving import served

HASH_KEY = "bad-credentials-" + "k" * 32


def concrete(path: str) -> str:
    return (
        path.replace("{session_id:path}", "s")
        .replace("{memory_id:path}", "m")
        .replace("{namespace}", "ns")
        .replace("{view_id}", "v")
        .replace("{task_id}", "t")
    )


async def all_refused(app: Any, url: str, credentials: dict[str, str]) -> int:
    """Try every guarded route with each credential; return how many requests were made."""
    made = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for route in sorted(guarded_routes(app)):
            method, path = route.split(" ", 1)
            for name, credential in credentials.items():
                r = await http.request(
                    "POST" if method == "*" else method,
                    concrete(path),
                    json={},
                    headers={"Authorization": f"Bearer {credential}"},
                )
                made += 1
                assert r.status_code == 401, f"{route} with {name}: {r.status_code} {r.text}"
                assert r.json()["detail"], (route, name)
                assert r.headers["www-authenticate"].lower().startswith("bearer")
    return made


async def test_expired_and_revoked_tokens_open_no_route(settings: Settings) -> None:
    update = {"auth_mode": "token", "token_hash_key": SecretStr(HASH_KEY)}
    settings = settings.model_copy(update=update)
    client = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(client, Keys(settings.key_prefix), HASH_KEY)
        expired, _ = await store.create(["*"], role="admin", expires_in_seconds=0.5)
        revoked, info = await store.create(["*"], role="admin")
        await store.revoke(info.id)
        good, _ = await store.create(["*"], role="admin")
        await asyncio.sleep(0.6)
    finally:
        await client.aclose()
    app = build_app(settings)
    async with served(app) as url:
        async with httpx.AsyncClient(base_url=url) as http:  # the good one works
            ok = await http.get("/v1/working-memory/", headers={"Authorization": f"Bearer {good}"})
            assert ok.status_code == 200, ok.text
        bad = {"expired": expired, "revoked": revoked, "malformed": "rmm_zz", "a JWT": "a.b.c"}
        assert await all_refused(app, url, bad) >= 4 * 25


async def test_forged_jwts_open_no_route(
    jwt_settings: Settings,  # noqa: F811
    issuer: tuple[Issuer, str],  # noqa: F811
) -> None:
    found, _ = issuer
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "wrong key": found.token(key=other_key),
        "wrong issuer": found.token(iss="https://evil.test/"),
        "wrong audience": found.token(aud="another-api"),
        "alg none": unsigned(claims()),
        "expired": found.token(exp=1, iat=0),
        "HS256 with the public key": hs256_with_public_key(found, claims()),
    }
    app = create_app(jwt_settings)
    async with served(app) as url:
        async with httpx.AsyncClient(base_url=url) as http:  # a genuine one works
            genuine = {"Authorization": f"Bearer {found.token()}"}
            assert (await http.get("/v1/working-memory/", headers=genuine)).status_code == 200
        assert await all_refused(app, url, forged) >= 6 * 25
    assert ISSUER and AUDIENCE
