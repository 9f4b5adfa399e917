"""A session's deprecated ``namespace`` label, through the managed SDK over HTTP: taken from
its first event only, read back (absent when the session is placed with ``namespaceRef``), kept
by a PUT of the other API, and given to the memories extracted from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent_memory_client.models import MemoryMessage, WorkingMemory
from redis_agent_memory import AgentMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.managed.conftest import STORE, Both
from tests.serving import served

WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def add(sdk: AgentMemory, text: str, session_id: str, **more: Any) -> Any:
    return await sdk.add_session_event_async(
        actor_id="alice",
        role="USER",
        content=[{"text": text}],
        created_at=WHEN,
        session_id=session_id,
        **more,
    )


async def test_the_first_events_label_is_the_sessions(both: Both) -> None:
    await add(both.sdk, "the report is due friday", "chat-1", namespace="Work")
    await add(both.sdk, "and lunch at one", "chat-1", namespace="home")  # a later one: ignored
    await add(both.sdk, "then a call", "chat-1")
    session = await both.sdk.get_session_memory_async(session_id="chat-1")
    assert session.namespace == "Work" and session.namespace_ref is None
    assert len(session.events) == 3
    wm = await both.ams.get_working_memory("chat-1", namespace=STORE, user_id="alice")
    put = WorkingMemory(  # the other API's client replaces the session, which knows no label
        session_id="chat-1",
        namespace=STORE,
        user_id="alice",
        messages=[MemoryMessage(role=m.role, content=m.content, id=m.id) for m in wm.messages],
    )
    await both.ams.put_working_memory("chat-1", put, user_id="alice")
    assert (await both.sdk.get_session_memory_async(session_id="chat-1")).namespace == "Work"
    await add(both.sdk, "unlabelled", "chat-2")
    assert (await both.sdk.get_session_memory_async(session_id="chat-2")).namespace is None


async def test_memories_extracted_from_a_labelled_session_are_labelled(
    settings: Settings,
) -> None:
    quick = settings.model_copy(
        update={"extraction_debounce_seconds": 0.3, "task_poll_seconds": 0.05}
    )
    async with (
        served(create_app(quick)) as url,
        AgentMemory(server_url=url, store_id="store-x") as sdk,
    ):
        await add(sdk, "My favourite city is Porto", "trip", namespace="Travel")
        await add(sdk, "My desk is by the window", "desk")

        async def search(**where: Any) -> list[Any]:
            asked = {"filter": where, "limit": 100}
            found = await sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
            return list(found.items)

        (memory,) = await wait_until(lambda: search(namespace={"eq": "TRAVEL"}), timeout=15)
        assert "Porto" in memory.text and memory.namespace == "Travel"
        (other,) = await wait_until(lambda: search(unnamespaced=True), timeout=15)
        assert "window" in other.text and other.namespace is None
