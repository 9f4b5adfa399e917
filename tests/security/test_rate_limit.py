"""The rate limit over real HTTP: per caller, shared by every process through Redis, 429 with
Retry-After past it, off by default."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import assert_4xx_with_reason
from tests.security.callers import TENANTS, Named, bearer
from tests.serving import served

PATH = "/v1/working-memory/"


async def test_past_its_allowance_a_caller_gets_429_and_others_do_not(settings: Settings) -> None:
    """Three a minute: two servers (as two processes would) share each caller's count; the
    fourth request of a caller, to either, is a 429 saying when to retry; another caller and
    the health check are not held back."""
    limited = settings.model_copy(update={"rate_limit_per_minute": 3})
    one = create_app(limited, authenticator=Named(TENANTS))
    two = create_app(limited, authenticator=Named(TENANTS))
    async with (
        served(one) as url_one,
        served(two) as url_two,
        httpx.AsyncClient(base_url=url_one) as a,
        httpx.AsyncClient(base_url=url_two) as b,
    ):
        admin = bearer("admin")
        assert (await a.get(PATH, headers=admin)).status_code == 200
        assert (await b.get(PATH, headers=admin)).status_code == 200
        assert (await a.get(PATH, headers=admin)).status_code == 200
        refused = await b.get(PATH, headers=admin)
        assert_4xx_with_reason(refused, 429)
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 20  # one request every 20 s
        assert (await a.get(PATH, headers=admin)).status_code == 429
        assert (
            await a.get(PATH, headers=bearer("acme-reader"), params={"namespace": "acme/x"})
        ).status_code == 200
        assert (await a.get("/v1/health")).status_code == 200


async def test_off_by_default_and_nothing_is_kept(settings: Settings) -> None:
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        for _ in range(30):
            assert (await http.get(PATH)).status_code == 200
    client = aioredis.Redis.from_url(settings.redis_url or "")
    try:
        assert [k async for k in client.scan_iter(match=f"{settings.key_prefix}ratelimit*")] == []
    finally:
        await client.aclose()
