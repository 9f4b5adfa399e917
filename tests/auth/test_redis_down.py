"""With Redis gone, an authenticated request answers 503 with Retry-After, as every other
route does: the token check and the audit log reach Redis through the store, whose one
translation turns "Redis is not there" into ``BackendUnavailable``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import redis
from pydantic import SecretStr

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.embedded import EmbeddedRedis
from remem.store.keys import Keys

HASH_KEY = "h" * 32


async def test_a_token_check_while_redis_is_down_is_503_with_retry_after(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.acquire()
    try:
        settings = Settings(
            redis_url=url,
            redis_timeout_seconds=1.0,
            auth_mode="token",
            token_hash_key=SecretStr(HASH_KEY),
            run_worker=False,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            store = TokenStore(app.state.resources.redis, Keys(settings.key_prefix), HASH_KEY)
            token, _ = await store.create(["*"], role="admin")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                good = {"Authorization": f"Bearer {token}"}
                assert (await http.get("/v1/working-memory/", headers=good)).status_code == 200
                with contextlib.suppress(redis.ConnectionError):
                    redis.Redis.from_url(url).shutdown(nosave=True)
                unknown = {"Authorization": "Bearer rmm_000000000000_" + "x" * 43}
                for headers in (good, unknown):  # neither can be checked
                    r = await http.get("/v1/working-memory/", headers=headers)
                    assert r.status_code == 503, r.text
                    assert r.headers["retry-after"], r.headers
                    assert "Redis unavailable" in r.json()["detail"]
    finally:
        server.release()
