"""What reading a store's session costs, and that its cheaper reads stay right: a session is
found with its document in one search, then read by its key (one JSON.GET, as the Agent Memory
Server API's read), and found again when its key no longer holds it. Its answer, built
without models, is the bytes its models would give."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from ulid import ULID

from remem.api.routers.managed.sessions import session_memory
from remem.errors import Conflict, InvalidInput, NotFound
from remem.memory.events import SessionEvents, SessionOwners
from remem.models.managed import SessionEvent, SessionMemory, SessionSummary, TextPart
from remem.models.working import MemoryMessage, WorkingMemory, WorkingMemoryResponse
from remem.runtime import Resources
from remem.store.events import SessionMessages

NS = "store-r"


@pytest.fixture
async def events(resources: Resources) -> AsyncIterator[SessionEvents]:
    yield SessionEvents(resources.working, SessionMessages(resources.redis, resources.keys))


async def _put(events: SessionEvents, session_id: str, user: str, text: str) -> None:
    body = WorkingMemory(
        session_id=session_id,
        namespace=NS,
        user_id=user,
        messages=[MemoryMessage(role="user", content=text)],
    )
    await events.working.put(session_id, body)


async def _calls(redis: Redis) -> dict[str, int]:
    """Commands run so far, leaving out INFO and stream reads: an earlier test's task worker
    may still be blocked in an XREAD, counted when it returns (tests/managed's apps run one)."""
    stats = await redis.info("commandstats")
    return {
        k: int(v["calls"])
        for k, v in stats.items()
        if k != "cmdstat_info" and not k.startswith("cmdstat_xread")
    }


async def _sent(redis: Redis, before: dict[str, int]) -> dict[str, int]:
    after = await _calls(redis)
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


# It counts the commands the whole Redis ran: over TCP the suite's Redis also serves other
# processes' task queues (a worker's XREADGROUP landed in a CI run's count).
@pytest.mark.embedded_only
async def test_a_session_is_found_in_one_search_then_read_by_its_key(
    events: SessionEvents, resources: Resources
) -> None:
    await _put(events, "s1", "alice", "hello")
    before = await _calls(resources.redis)
    found = await events.session("s1", NS, None)
    assert found.user_id == "alice" and found.messages[0].content == "hello"
    assert await _sent(resources.redis, before) == {"cmdstat_FT.SEARCH": 1}
    before = await _calls(resources.redis)
    again = await events.session("s1", NS, None)
    assert again.messages[0].content == "hello"
    assert await _sent(resources.redis, before) == {"cmdstat_json.get": 1}


async def test_a_session_made_again_for_another_user_is_found_again(
    events: SessionEvents,
) -> None:
    await _put(events, "s2", "alice", "from alice")
    assert (await events.session("s2", NS, None)).user_id == "alice"
    await events.working.delete("s2", namespace=NS, user_id="alice")
    with pytest.raises(NotFound):
        await events.session("s2", NS, None)
    await _put(events, "s2", "bob", "from bob")
    found = await events.session("s2", NS, None)
    assert (found.user_id, found.messages[0].content) == ("bob", "from bob")


async def test_a_session_id_two_users_hold_is_a_conflict(events: SessionEvents) -> None:
    await _put(events, "s3", "alice", "one")
    await _put(events, "s3", "bob", "two")
    with pytest.raises(Conflict, match="several users"):
        await events.session("s3", NS, None)
    assert (await events.session("s3", NS, "bob")).messages[0].content == "two"


@pytest.mark.parametrize("bad", ["", " s1", "s\x001", "s" * 4097, "\ud800"])
async def test_a_session_id_the_index_cannot_match_is_refused(
    events: SessionEvents, bad: str
) -> None:
    """As the other API refuses it (a 400), rather than searching for it."""
    await _put(events, "s1", "alice", "hello")
    with pytest.raises(InvalidInput, match="session_id"):
        await events.session(bad, NS, None)


def test_the_owners_remembered_are_the_newest() -> None:
    owners = SessionOwners(size=2)
    owners.put("n", "a", "alice")
    owners.put("n", "b", None)
    assert owners.get("n", "a") == (True, "alice")  # now the newest
    owners.put("n", "c", "carol")
    assert owners.get("n", "b") == (False, None)
    assert owners.get("n", "a") == (True, "alice") and owners.get("n", "c") == (True, "carol")
    owners.forget("n", "a")
    assert owners.get("n", "a") == (False, None)


def test_a_sessions_answer_is_what_its_models_serialise() -> None:
    when = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    made = ULID()
    messages = [
        MemoryMessage(id=str(made), role="user", content="hi", created_at=when, actor_id="al"),
        MemoryMessage(id="chosen-id", role="assistant", content="yes", metadata={"n": [1]}),
        MemoryMessage(id=str(ULID()).lower(), role="system", content="x" * 60_000),
    ]
    doc = WorkingMemoryResponse(
        session_id="s", user_id="al", namespace=NS, messages=messages, context="earlier"
    )
    stamps = [made.datetime, messages[1].created_at, ULID.from_str(messages[2].id).datetime]
    expected = SessionMemory(
        session_id="s",
        owner_id="al",
        events=[
            SessionEvent.model_construct(
                event_id=m.id,
                actor_id=m.actor_id or "al",
                session_id="s",
                role=m.role.upper(),
                content=[TextPart.model_construct(text=m.content)],
                created_at=m.created_at,
                system_timestamp=stamp,
                metadata=m.metadata,
            )
            for m, stamp in zip(messages, stamps, strict=True)
        ],
        summary=SessionSummary(
            text="earlier",
            summarized_up_to_event_id="",
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        ),
    )
    answered = session_memory(doc)
    assert answered.body == expected.model_dump_json(by_alias=True, exclude_none=True).encode()
