"""What the managed API writes, remem's background work and scopes treat as its own: events
are extracted into the store's long-term memory, and a token reaches only its stores, refused
with the SDK's typed errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import redis.asyncio
from redis_agent_memory import AgentMemory, errors

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.helpers import wait_until
from tests.serving import served


async def test_events_are_extracted_into_the_stores_long_term_memory(settings: Settings) -> None:
    quick = settings.model_copy(
        update={"extraction_debounce_seconds": 0.3, "task_poll_seconds": 0.05}
    )
    async with (
        served(create_app(quick)) as url,
        AgentMemory(server_url=url, store_id="store-x") as sdk,
    ):
        await sdk.add_session_event_async(
            actor_id="alice",
            role="USER",
            content=[{"text": "My favourite city is Porto"}],
            created_at=datetime.now(UTC),
            session_id="chat-1",
        )

        async def extracted() -> list[object]:
            found = await sdk.search_long_term_memory_async(
                request={"text": "favourite city", "filter": {"session_id": {"eq": "chat-1"}}}
            )
            return list(found.items)

        (memory,) = await wait_until(extracted, timeout=15)
        assert "Porto" in memory.text and memory.owner_id == "alice"  # type: ignore[attr-defined]
        assert memory.session_id == "chat-1"  # type: ignore[attr-defined]


async def test_a_token_reaches_its_stores_only(settings: Settings) -> None:
    key = "managed-" + "k" * 32
    secured = Settings(**{**settings.model_dump(), "auth_mode": "token", "token_hash_key": key})
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        tokens = TokenStore(client, Keys(settings.key_prefix), key)
        writer, _ = await tokens.create(("store-a",), role="write", user_id=None)
        reader, _ = await tokens.create(("store-a",), role="read", user_id=None)
    finally:
        await client.aclose()
    event = {
        "actor_id": "alice",
        "role": "USER",
        "content": [{"text": "hello"}],
        "created_at": datetime.now(UTC),
    }
    async with served(create_app(secured)) as url:
        async with AgentMemory(server_url=url, store_id="store-a", api_key=writer) as mine:
            made = await mine.add_session_event_async(**event)  # type: ignore[arg-type]
            assert made.event.actor_id == "alice"
            assert (await mine.health_async()).status == "healthy"
        async with AgentMemory(server_url=url, store_id="store-b", api_key=writer) as other:
            with pytest.raises(errors.ForbiddenErrorResponseContent) as caught:
                await other.list_sessions_async(include_all=True)
            assert caught.value.data.type == "/errors/insufficient-permissions"
        async with AgentMemory(server_url=url, store_id="store-a", api_key=reader) as ro:
            assert (await ro.list_sessions_async(include_all=True)).total == 1
            with pytest.raises(errors.ForbiddenErrorResponseContent):
                await ro.add_session_event_async(**event)  # type: ignore[arg-type]
        bad = f"rmm_{uuid.uuid4().hex[:12]}_nope"
        async with AgentMemory(server_url=url, store_id="store-a", api_key=bad) as nobody:
            with pytest.raises(errors.AuthenticationErrorResponseContent) as denied:
                await nobody.list_sessions_async(include_all=True)
            assert denied.value.data.status == 401


async def test_a_token_bound_to_a_user_reaches_only_that_users_data(settings: Settings) -> None:
    key = "managed-" + "k" * 32
    secured = Settings(**{**settings.model_dump(), "auth_mode": "token", "token_hash_key": key})
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        tokens = TokenStore(client, Keys(settings.key_prefix), key)
        admin, _ = await tokens.create(("*",), role="admin", user_id=None)
        bob, _ = await tokens.create(("store-a",), role="write", user_id="bob")
    finally:
        await client.aclose()
    now = datetime.now(UTC)
    async with served(create_app(secured)) as url:
        async with AgentMemory(server_url=url, store_id="store-a", api_key=admin) as root:
            await root.add_session_event_async(
                actor_id="alice", role="USER", content=[{"text": "alice's"}], created_at=now,
                session_id="alice-chat",
            )  # fmt: skip
            await root.bulk_create_long_term_memories_async(
                memories=[{"id": "a-1", "text": "alice likes plums", "owner_id": "alice"}]
            )
        async with AgentMemory(server_url=url, store_id="store-a", api_key=bob) as sdk:
            made = await sdk.add_session_event_async(
                actor_id="assistant-1", role="ASSISTANT", content=[{"text": "hi"}],
                created_at=now, session_id="bob-chat",
            )  # fmt: skip
            assert made.event.actor_id == "assistant-1"
            assert (await sdk.get_session_memory_async(session_id="bob-chat")).owner_id == "bob"
            assert (await sdk.list_sessions_async(include_all=True)).items == ["bob-chat"]
            with pytest.raises(errors.NotFoundErrorResponseContent):
                await sdk.get_session_memory_async(session_id="alice-chat")
            with pytest.raises(errors.NotFoundErrorResponseContent):
                await sdk.get_long_term_memory_async(memory_id="a-1")
            refused = await sdk.bulk_create_long_term_memories_async(
                memories=[{"id": "b-1", "text": "as alice", "owner_id": "alice"}]
            )
            assert refused.created == [] and [e.id for e in refused.errors] == ["b-1"]
            found = await sdk.search_long_term_memory_async(request={"text": "plums"})
            assert found.items == []
            with pytest.raises(errors.ForbiddenErrorResponseContent):
                await sdk.list_namespaces_async()
