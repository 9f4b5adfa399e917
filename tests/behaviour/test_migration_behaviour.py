"""Moving from the Redis Agent Memory Server: what `remem migrate` does to its sessions.

The Agent Memory Server (AMS) kept each session under ``working_memory:<namespace>:<session>``
and listed sessions in a sorted set, ``sessions:<namespace>``, that it never pruned.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.store.keys import Keys
from remem.upkeep.migrate import run_migration


async def forget_ams(r: Redis) -> None:
    for pattern in ("working_memory:*", "sessions*"):
        keys = [k async for k in r.scan_iter(match=pattern)]
        if keys:
            await r.delete(*keys)


@pytest.fixture
async def ams(redis_url: str) -> AsyncIterator[Redis]:
    """The Redis an AMS used (one shared test Redis: AMS keys are cleared around each test)."""
    r = Redis.from_url(redis_url, decode_responses=True)
    await forget_ams(r)
    yield r
    await forget_ams(r)
    await r.aclose()


def ams_session(session_id: str, namespace: str, *contents: str) -> str:
    return json.dumps(
        {
            "session_id": session_id,
            "namespace": namespace,
            "user_id": None,
            "messages": [{"role": "user", "content": c, "id": c} for c in contents],
            "context": None,
            "data": {},
            "memories": [],
            "tokens": 0,
            "ttl_seconds": None,
            "created_at": 1_700_000_000,
            "updated_at": 1_700_000_100,
            "last_accessed": 1_700_000_100,
        }
    )


async def migrate(settings: Settings) -> None:
    await run_migration(settings, echo=lambda line: None, progress=lambda line: None)


async def test_a_session_whose_sorted_set_entry_outlived_it_is_not_listed(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    """After `remem migrate`, a session whose sorted-set entry outlived it is not listed."""
    await ams.set("working_memory:shop:alive", ams_session("alive", "shop", "hello"))
    await ams.zadd("sessions:shop", {"alive": 1, "expired-long-ago": 2})

    await migrate(settings)

    listed = (await client.get("/v1/working-memory/", params={"namespace": "shop"})).json()
    assert listed == {"sessions": ["alive"], "total": 1}
    assert not await ams.exists("sessions:shop")


async def test_a_session_keeps_its_remaining_time_to_live(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    """A session keeps its remaining time to live across `remem migrate`."""
    await ams.set("working_memory:shop:brief", ams_session("brief", "shop", "hi"), ex=600)

    await migrate(settings)

    ttl_ms = await ams.pttl(Keys(settings.key_prefix).working_memory("brief", None, "shop"))
    assert 595_000 < ttl_ms <= 600_000


async def test_a_session_keeps_its_messages_and_creation_time(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    """An AMS session keeps its messages and its creation time after `remem migrate`."""
    await ams.execute_command(
        "JSON.SET", "working_memory:shop:talk", "$", ams_session("talk", "shop", "one", "two")
    )

    await migrate(settings)

    got = (await client.get("/v1/working-memory/talk", params={"namespace": "shop"})).json()
    assert [m["content"] for m in got["messages"]] == ["one", "two"]
    assert datetime.fromisoformat(got["created_at"]).timestamp() == 1_700_000_000
