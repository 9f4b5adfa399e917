"""The managed Agent Memory API's SDK, ``redis-agent-memory`` 0.4.1, unchanged against
``remem serve``'s app over real HTTP on the test cluster: a store is a namespace, and stores on
every primary keep their sessions, memories and namespace resources apart."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from redis_agent_memory import AgentMemory, errors

from remem.api.app import create_app
from remem.config import Settings
from tests.cluster.conftest import spread_namespaces
from tests.serving import served

warnings.filterwarnings("ignore", category=DeprecationWarning)
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def url(cluster_settings: Settings) -> AsyncIterator[str]:
    async with served(create_app(cluster_settings)) as base:
        yield base


async def _fill(sdk: AgentMemory, store: str) -> None:
    for text in ("hello", "I keep bees"):
        await sdk.add_session_event_async(
            actor_id="alice", role="USER", content=[{"text": f"{text} in {store}"}],
            created_at=WHEN, session_id="chat",
        )  # fmt: skip
    made = await sdk.bulk_create_long_term_memories_async(
        memories=[
            {"id": f"bees-{store}", "text": f"alice keeps bees in {store}", "owner_id": "alice"},
            {"id": f"tea-{store}", "text": f"bob drinks tea in {store}", "owner_id": "bob"},
        ]
    )
    assert made.created == [f"bees-{store}", f"tea-{store}"] and not made.errors


async def test_stores_on_every_primary(url: str, redis: Redis) -> None:
    stores = await spread_namespaces(redis, per_primary=1, pattern="store-{}")  # in URLs
    for store in stores:
        async with AgentMemory(server_url=url, store_id=store) as sdk:
            await _fill(sdk, store)
            team = await sdk.create_namespace_async(request={"name": "team", "scope": "SHARED"})
            assert team.namespace.path == "team"
    for store in stores:
        async with AgentMemory(server_url=url, store_id=store) as sdk:
            session = await sdk.get_session_memory_async(session_id="chat")
            assert session.owner_id == "alice"
            assert [e.content[0].text for e in session.events] == [
                f"hello in {store}",
                f"I keep bees in {store}",
            ]
            assert (await sdk.list_sessions_async(include_all=True)).items == ["chat"]
            got = await sdk.get_long_term_memory_async(memory_id=f"bees-{store}")
            assert got.text == f"alice keeps bees in {store}"
            found = await sdk.search_long_term_memory_async(
                request={"text": "bees", "filter": {"owner_id": {"eq": "alice"}}}  # type: ignore[arg-type]
            )
            # the memory, and the turns extracted from the session: this store's only
            assert (f"bees-{store}", got.text) in [(m.id, m.text) for m in found.items]
            assert all(m.text.endswith(f" in {store}") for m in found.items)
            edited = await sdk.update_long_term_memory_async(
                memory_id=f"tea-{store}", text="bob: coffee"
            )
            assert edited.text == "bob: coffee"
            assert [n.name for n in (await sdk.list_namespaces_async()).items] == ["team"]
    first, second = stores[:2]
    async with AgentMemory(server_url=url, store_id=first) as sdk:
        gone = await sdk.bulk_delete_long_term_memories_async(
            memory_ids=[f"bees-{first}", f"tea-{first}", f"bees-{second}"]
        )
        assert sorted(gone.deleted) == [f"bees-{first}", f"tea-{first}"]  # not another store's
        with pytest.raises(errors.NotFoundErrorResponseContent):
            await sdk.get_long_term_memory_async(memory_id=f"bees-{first}")
        with pytest.raises(errors.NotFoundErrorResponseContent):
            await sdk.get_long_term_memory_async(memory_id=f"bees-{second}")
    async with AgentMemory(server_url=url, store_id=second) as sdk:
        assert (await sdk.get_long_term_memory_async(memory_id=f"bees-{second}")).text.endswith(
            second
        )
        assert (await sdk.get_long_term_memory_async(memory_id=f"tea-{second}")).text == (
            "bob: coffee"
        )


async def test_placements_moves_and_the_delete_rule_on_every_primary(
    url: str, redis: Redis
) -> None:
    """In stores on each primary: memories placed in namespace resources and moved between
    them, a session placed by its first event, and a namespace that holds either is a 409
    until it is emptied (memory ids are unique over the stores, as on a single Redis)."""
    for store in await spread_namespaces(redis, per_primary=1, pattern="placed-{}"):
        async with AgentMemory(server_url=url, store_id=store) as sdk:

            async def made(name: str, sdk: AgentMemory = sdk) -> str:
                answer = await sdk.create_namespace_async(request={"name": name, "scope": "SHARED"})
                return answer.namespace.namespace_id

            here, there, chats = await made("here"), await made("there"), await made("chats")
            ref = {"namespace_id": here}
            await sdk.bulk_create_long_term_memories_async(
                memories=[
                    {"id": f"{i}-{store}", "text": text, "owner_id": "al", "namespace_ref": ref}
                    for i, text in (("a", "apples"), ("b", "pears"))
                ]  # type: ignore[misc]
            )
            moved = await sdk.move_long_term_memories_async(
                memory_ids=[f"b-{store}"], namespace_ref={"namespace_id": there}
            )
            assert moved.moved == [f"b-{store}"] and not moved.errors
            found = await sdk.search_long_term_memory_async(
                request={"filter": {"namespace_ref": {"in": [there]}}, "limit": 10}
            )
            assert [m.id for m in found.items] == [f"b-{store}"]
            await sdk.add_session_event_async(
                actor_id="al", role="USER", content=[{"text": "hi"}], created_at=WHEN,
                session_id="chat", namespace_ref={"namespace_id": chats},
            )  # fmt: skip
            for held in (here, chats):
                with pytest.raises(errors.ConflictErrorResponseContent):
                    await sdk.delete_namespace_async(namespace_id=held)
            await sdk.bulk_delete_long_term_memories_async(memory_ids=[f"a-{store}"])
            await sdk.delete_namespace_async(namespace_id=here)
            await sdk.delete_session_memory_async(session_id="chat")
            await sdk.delete_namespace_async(namespace_id=chats)
            assert [n.name for n in (await sdk.list_namespaces_async()).items] == ["there"]
