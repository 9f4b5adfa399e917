"""Session memory through the managed SDK: events are the working-memory messages of the
store's namespace, readable and writable through either API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from agent_memory_client.models import MemoryMessage, WorkingMemory
from redis_agent_memory import errors, models

from tests.managed.conftest import STORE, Both

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def add(both: Both, text: str, actor: str = "alice", **kw: object) -> models.SessionEvent:
    role = kw.pop("role", models.MessageRole.USER)
    made = await both.sdk.add_session_event_async(
        actor_id=actor,
        role=role,
        content=[{"text": text}],
        created_at=WHEN,
        **kw,  # type: ignore[arg-type]
    )
    return made.event


async def test_an_event_makes_its_session_and_comes_back_as_sent(both: Both) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    event = await add(both, "I like green tea", metadata={"channel": "web", "n": [1, 2]})
    assert event.session_id and event.event_id and event.actor_id == "alice"
    assert event.role == "USER" and event.content[0].text == "I like green tea"
    assert event.created_at == WHEN and event.metadata == {"channel": "web", "n": [1, 2]}
    assert before < event.system_timestamp < datetime.now(UTC) + timedelta(seconds=5)
    got = await both.sdk.get_session_event_async(
        session_id=event.session_id, event_id=event.event_id
    )
    assert got.event == event


async def test_the_first_actor_owns_the_session_and_later_events_join_it(both: Both) -> None:
    first = await add(both, "hello", session_id="chat-1")
    await add(both, "hi alice", actor="bot-7", session_id="chat-1", role="ASSISTANT")
    session = await both.sdk.get_session_memory_async(session_id="chat-1")
    assert session.session_id == "chat-1" and session.owner_id == "alice"
    assert [(e.actor_id, e.role) for e in session.events] == [
        ("alice", "USER"),
        ("bot-7", "ASSISTANT"),
    ]
    assert session.events[0].event_id == first.event_id and session.summary is None


async def test_events_are_working_memory_messages_of_the_stores_namespace(both: Both) -> None:
    await add(both, "I live in Lisbon", session_id="chat-2")
    wm = await both.ams.get_working_memory("chat-2", namespace=STORE, user_id="alice")
    assert [(m.role, m.content) for m in wm.messages] == [("user", "I live in Lisbon")]
    assert wm.messages[0].created_at == WHEN


async def test_messages_written_through_the_upstream_api_are_events(both: Both) -> None:
    memory = WorkingMemory(
        session_id="chat-3",
        user_id="bob",
        namespace=STORE,
        context="bob talked about tea",
        messages=[
            MemoryMessage(role="user", content="tea please"),
            MemoryMessage(role="assistant", content="here"),
        ],
    )
    await both.ams.put_working_memory("chat-3", memory, user_id="bob")
    session = await both.sdk.get_session_memory_async(session_id="chat-3")
    assert session.owner_id == "bob"
    assert [(e.role, e.actor_id, e.content[0].text) for e in session.events] == [
        ("USER", "bob", "tea please"),
        ("ASSISTANT", "bob", "here"),
    ]
    assert session.summary is not None and session.summary.text == "bob talked about tea"


async def test_sessions_are_listed_by_owner_or_all_page_by_page(both: Both) -> None:
    for i in range(5):
        await add(both, f"message {i}", actor="carol" if i < 3 else "dave", session_id=f"s{i}")
    carol = await both.sdk.list_sessions_async(filter_owner_id="carol")
    assert sorted(carol.items) == ["s0", "s1", "s2"] and carol.total == 3
    seen: list[str] = []
    token = None
    while True:
        page = await both.sdk.list_sessions_async(include_all=True, limit=2, page_token=token)
        assert page.total == 5 and len(page.items) <= 2
        seen += page.items
        token = page.next_page_token
        if token is None:
            break
    assert sorted(seen) == [f"s{i}" for i in range(5)]
    other = both.store("another-store")
    assert (await other.list_sessions_async(include_all=True)).items == []


async def test_a_page_token_this_server_did_not_make_is_a_400(both: Both) -> None:
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await both.sdk.list_sessions_async(include_all=True, page_token="forged")


async def test_deleting_a_session_or_an_event(both: Both) -> None:
    kept = await add(both, "keep me", session_id="chat-4")
    dropped = await add(both, "drop me", session_id="chat-4")
    await both.sdk.delete_session_event_async(session_id="chat-4", event_id=dropped.event_id)
    session = await both.sdk.get_session_memory_async(session_id="chat-4")
    assert [e.event_id for e in session.events] == [kept.event_id]
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.get_session_event_async(session_id="chat-4", event_id=dropped.event_id)
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.delete_session_event_async(session_id="chat-4", event_id=dropped.event_id)
    await both.sdk.delete_session_memory_async(session_id="chat-4")
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.get_session_memory_async(session_id="chat-4")
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.delete_session_memory_async(session_id="chat-4")


async def test_a_session_of_another_store_is_not_found(both: Both) -> None:
    await add(both, "mine", session_id="chat-5")
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.store("another-store").get_session_memory_async(session_id="chat-5")
