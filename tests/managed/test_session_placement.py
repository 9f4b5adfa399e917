"""A session placed in a namespace resource (its first event's ``namespaceRef``), through the
managed SDK over HTTP: read back with its path, kept by a later event and by a PUT of the other
API, and its extracted memories placed there; the deprecated ``namespace`` label beside it is
a 400."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from agent_memory_client.models import MemoryMessage, WorkingMemory
from redis_agent_memory import AgentMemory, errors

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.managed.conftest import STORE, Both
from tests.serving import served

WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def namespace(sdk: AgentMemory, name: str) -> str:
    made = await sdk.create_namespace_async(request={"name": name, "scope": "SHARED"})
    return made.namespace.namespace_id


async def add(sdk: AgentMemory, text: str, session_id: str, **more: Any) -> Any:
    return await sdk.add_session_event_async(
        actor_id="alice",
        role="USER",
        content=[{"text": text}],
        created_at=WHEN,
        session_id=session_id,
        **more,
    )


async def test_a_session_is_placed_by_its_first_event_and_keeps_it(both: Both) -> None:
    work, home = await namespace(both.sdk, "work"), await namespace(both.sdk, "home")
    await add(both.sdk, "the report is due friday", "chat-1", namespace_ref={"namespace_id": work})
    session = await both.sdk.get_session_memory_async(session_id="chat-1")
    assert session.namespace_ref is not None
    assert (session.namespace_ref.namespace_id, session.namespace_ref.path) == (work, "work")

    await add(both.sdk, "and lunch at one", "chat-1", namespace_ref={"namespace_id": home})
    await add(both.sdk, "then a call", "chat-1")  # no ref: the session keeps its own
    session = await both.sdk.get_session_memory_async(session_id="chat-1")
    assert session.namespace_ref is not None and session.namespace_ref.namespace_id == work
    assert len(session.events) == 3

    wm = await both.ams.get_working_memory("chat-1", namespace=STORE, user_id="alice")
    put = WorkingMemory(  # the other API's client replaces the session, which knows no ref
        session_id="chat-1",
        namespace=STORE,
        user_id="alice",
        messages=[MemoryMessage(role=m.role, content=m.content, id=m.id) for m in wm.messages],
    )
    await both.ams.put_working_memory("chat-1", put, user_id="alice")
    session = await both.sdk.get_session_memory_async(session_id="chat-1")
    assert session.namespace_ref is not None and session.namespace_ref.namespace_id == work
    async with httpx.AsyncClient(base_url=both.url) as http:  # shown by the other API too
        old = await http.get(
            "/v1/working-memory/chat-1", params={"namespace": STORE, "user_id": "alice"}
        )
        plain = await http.get(
            "/v1/working-memory/chat-2", params={"namespace": STORE, "user_id": "alice"}
        )
    assert old.json()["namespace_id"] == work
    await add(both.sdk, "unplaced", "chat-2")
    unplaced = await both.sdk.get_session_memory_async(session_id="chat-2")
    assert unplaced.namespace_ref is None and plain.status_code == 404


async def test_a_namespace_holding_a_session_is_not_deleted(both: Both) -> None:
    """A placement counts for the delete rule: a namespace a session is placed in is a 409
    until the session is deleted (with either API); one placed elsewhere does not hold it."""
    held, free = await namespace(both.sdk, "held"), await namespace(both.sdk, "free")
    await add(both.sdk, "plans", "chat-h", namespace_ref={"namespace_id": held})
    await add(both.sdk, "other plans", "chat-f", namespace_ref={"namespace_id": free})
    with pytest.raises(errors.ConflictErrorResponseContent) as caught:
        await both.sdk.delete_namespace_async(namespace_id=held)
    assert "holds sessions" in caught.value.body
    assert (await both.sdk.get_session_memory_async(session_id="chat-h")).namespace_ref
    await both.sdk.delete_session_memory_async(session_id="chat-f")
    await both.sdk.delete_namespace_async(namespace_id=free)
    await both.ams.delete_working_memory("chat-h", namespace=STORE, user_id="alice")
    await both.sdk.delete_namespace_async(namespace_id=held)
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.get_namespace_async(namespace_id=held)


async def test_a_namespace_ref_that_cannot_take_it_or_with_a_label_is_refused(
    both: Both,
) -> None:
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await add(both.sdk, "hello", "chat-9", namespace_ref={"namespace_id": "missing"})
    gone = await namespace(both.sdk, "gone")
    await both.sdk.update_namespace_async(namespace_id=gone, state="ARCHIVED")
    with pytest.raises(errors.APIError) as archived:  # the SDK types no 409 for an event
        await add(both.sdk, "hello", "chat-9", namespace_ref={"namespace_id": gone})
    assert archived.value.status_code == 409 and "archived" in archived.value.body
    with pytest.raises(errors.BadRequestErrorResponseContent) as labelled:
        ref = {"namespace_id": await namespace(both.sdk, "ok")}
        await add(both.sdk, "hello", "chat-9", namespace="legacy", namespace_ref=ref)
    assert "namespaceRef" in json.loads(labelled.value.body)["detail"]
    with pytest.raises(errors.NotFoundErrorResponseContent):  # nothing was made
        await both.sdk.get_session_memory_async(session_id="chat-9")


async def test_memories_extracted_from_a_placed_session_are_placed(settings: Settings) -> None:
    quick = settings.model_copy(
        update={"extraction_debounce_seconds": 0.3, "task_poll_seconds": 0.05}
    )
    async with (
        served(create_app(quick)) as url,
        AgentMemory(server_url=url, store_id="store-x") as sdk,
    ):
        travel = await namespace(sdk, "travel")
        await add(sdk, "My favourite city is Porto", "trip", namespace_ref={"namespace_id": travel})
        await add(sdk, "My desk is by the window", "desk")

        async def placed() -> list[Any]:
            asked = {"filter": {"namespace_ref": {"eq": travel}}, "limit": 100}
            found = await sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
            return list(found.items)

        async def unplaced() -> list[Any]:
            asked = {"filter": {"unnamespaced": True}, "limit": 100}
            found = await sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
            return list(found.items)

        (memory,) = await wait_until(placed, timeout=15)
        assert "Porto" in memory.text and memory.session_id == "trip"
        assert memory.namespace_ref.namespace_id == travel
        assert memory.namespace_ref.path == "travel"
        (other,) = await wait_until(unplaced, timeout=15)
        assert "window" in other.text and other.namespace_ref is None
        with pytest.raises(errors.ConflictErrorResponseContent):  # its memory holds it
            await sdk.delete_namespace_async(namespace_id=travel)
        await sdk.update_namespace_async(namespace_id=travel, state="ARCHIVED")
        await add(sdk, "I also like Lisbon", "trip")  # archived: no longer takes memories

        async def lisbon() -> list[Any]:
            return [m for m in await unplaced() if "Lisbon" in m.text]

        (later,) = await wait_until(lisbon, timeout=15)
        assert later.session_id == "trip" and later.namespace_ref is None
        assert [m.id for m in await placed()] == [memory.id]
