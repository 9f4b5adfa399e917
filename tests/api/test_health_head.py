"""HEAD /v1/health answers as GET would, without a body, for load balancers and uptime probes
that send HEAD (it was a 405); like GET it needs no credentials, and is a 503 when Redis is
down."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import redis

from remem.api.app import create_app
from remem.config import Settings
from remem.store.embedded import EmbeddedRedis
from tests.serving import served


async def test_head_is_a_200_without_a_body_and_without_credentials(settings: Settings) -> None:
    token_mode = settings.model_copy(update={"auth_mode": "token"})
    async with served(create_app(token_mode)) as url, httpx.AsyncClient(base_url=url) as http:
        probe = await http.head("/v1/health")
        assert probe.status_code == 200 and probe.content == b""
        assert probe.headers["cache-control"] == "no-store"  # the security headers too
        assert (await http.get("/v1/health")).status_code == 200


async def test_head_is_a_503_when_redis_is_down(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.acquire()
    try:
        app = create_app(Settings(redis_url=url, redis_timeout_seconds=1.0))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert (await http.head("/v1/health")).status_code == 200
                with contextlib.suppress(redis.ConnectionError):
                    redis.Redis.from_url(url).shutdown(nosave=True)
                down = await http.head("/v1/health")
                assert down.status_code == 503 and "retry-after" in down.headers
    finally:
        server.release()
