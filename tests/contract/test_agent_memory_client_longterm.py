"""The official client 0.14.0 against remem's long-term memory, over real HTTP, with the
bundled local embedding model."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agent_memory_client import MemoryAPIClient
from agent_memory_client.exceptions import MemoryNotFoundError
from agent_memory_client.filters import MemoryType, Namespace, SessionId, Topics, UserId
from agent_memory_client.models import ClientMemoryRecord, ForgetPolicy, MemoryTypeEnum

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import official_client


@pytest.fixture
async def ams(settings: Settings) -> AsyncIterator[MemoryAPIClient]:
    async with official_client(create_app(settings), "lt") as client:
        yield client


FACTS = [
    ("m1", "Alice prefers green tea in the morning", "alice", "s1", ["drinks"]),
    ("m2", "Alice is allergic to peanuts", "alice", "s1", ["health", "food"]),
    ("m3", "Bob drives a red bicycle to work", "bob", "s2", ["transport"]),
    ("m4", "Bob's favourite food is spicy ramen", "bob", "s3", ["food"]),
]


async def _seed(ams: MemoryAPIClient) -> None:
    records = [
        ClientMemoryRecord(
            id=i,
            text=t,
            user_id=u,
            session_id=s,
            topics=topics,
            memory_type=MemoryTypeEnum.SEMANTIC,
        )
        for i, t, u, s, topics in FACTS
    ]
    ack = await ams.create_long_term_memory(records)
    assert ack.status == "ok"


async def test_create_and_search(ams: MemoryAPIClient) -> None:
    await _seed(ams)
    found = await ams.search_long_term_memory(text="what does alice drink?", limit=2)
    # A hybrid search (the default): both of Alice's memories match "alice"; BM25 prefers the
    # shorter, min-max fusion puts it first (a semantic search puts the tea first).
    assert {m.id for m in found.memories} == {"m1", "m2"}
    assert found.total == 4
    by_user = await ams.search_long_term_memory(text="food", user_id=UserId(eq="bob"))
    assert {m.id for m in by_user.memories} == {"m3", "m4"}


async def test_client_filters_in_not_in_none(ams: MemoryAPIClient) -> None:
    await _seed(ams)
    r = await ams.search_long_term_memory(text="anything", session_id=SessionId(in_=["s1", "s3"]))
    assert {m.id for m in r.memories} == {"m1", "m2", "m4"}
    r = await ams.search_long_term_memory(text="anything", session_id=SessionId(not_in=["s1"]))
    assert {m.id for m in r.memories} == {"m3", "m4"}
    r = await ams.search_long_term_memory(text="anything", topics=Topics(none=["food"]))
    assert {m.id for m in r.memories} == {"m1", "m3"}
    r = await ams.search_long_term_memory(text="x", memory_type=MemoryType(not_eq="semantic"))
    assert r.memories == [] and r.total == 0
    # The namespace filter the client adds is never dropped, even when nothing matches.
    r = await ams.search_long_term_memory(text="tea", namespace=Namespace(eq="elsewhere"))
    assert r.memories == [] and r.total == 0


async def test_get_edit_delete(ams: MemoryAPIClient) -> None:
    await _seed(ams)
    got = await ams.get_long_term_memory("m3")
    assert got.text.startswith("Bob drives")
    edited = await ams.edit_long_term_memory("m3", {"text": "Bob now rides a blue scooter"})
    assert edited.text == "Bob now rides a blue scooter" and edited.topics == ["transport"]
    found = await ams.search_long_term_memory(text="scooter", limit=1)
    assert found.memories[0].id == "m3"
    ack = await ams.delete_long_term_memories(["m3", "m4", "missing"])
    assert ack.status == "ok, deleted 2 memories"
    with pytest.raises(MemoryNotFoundError):
        await ams.get_long_term_memory("m3")


async def test_forget(ams: MemoryAPIClient) -> None:
    await _seed(ams)
    dry = await ams.forget_long_term_memories(ForgetPolicy(budget=1), dry_run=True)
    assert dry.dry_run is True and dry.deleted == 3
    assert (await ams.search_long_term_memory(text="x")).total == 4
    done = await ams.forget_long_term_memories(ForgetPolicy(budget=1), pinned_ids=["m2"])
    assert done.deleted == 2 and "m2" not in done.deleted_ids
    assert (await ams.search_long_term_memory(text="x")).total == 2
