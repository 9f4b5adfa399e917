"""The official client, agent-memory-client 0.14.0, driven unchanged against remem over HTTP."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import pytest
from agent_memory_client import MemoryAPIClient
from agent_memory_client.exceptions import MemoryNotFoundError
from agent_memory_client.models import MemoryMessage, WorkingMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import official_client

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
async def ams(settings: Settings) -> AsyncIterator[MemoryAPIClient]:
    async with official_client(create_app(settings), "app") as client:
        yield client


async def test_health_check(ams: MemoryAPIClient) -> None:
    health = await ams.health_check()
    assert health.now > 1.7e12  # epoch milliseconds


async def test_put_get_delete(ams: MemoryAPIClient) -> None:
    memory = WorkingMemory(
        session_id="chat-1",
        user_id="alice",
        messages=[
            MemoryMessage(role="user", content="I like green tea"),
            MemoryMessage(role="assistant", content="Noted!"),
        ],
        data={"theme": "dark"},
        context="tea talk",
        ttl_seconds=600,
    )
    put = await ams.put_working_memory("chat-1", memory, user_id="alice")
    assert put.session_id == "chat-1" and put.namespace == "app" and put.ttl_seconds == 600
    got = await ams.get_working_memory("chat-1", user_id="alice")
    assert [m.content for m in got.messages] == ["I like green tea", "Noted!"]
    assert got.data == {"theme": "dark"} and got.context == "tea talk"
    ack = await ams.delete_working_memory("chat-1", user_id="alice")
    assert ack.status == "ok"
    with pytest.raises(MemoryNotFoundError):
        await ams.get_working_memory("chat-1", user_id="alice")


async def test_get_or_create(ams: MemoryAPIClient) -> None:
    created, memory = await ams.get_or_create_working_memory("new-session", user_id="bob")
    assert created is True and memory.session_id == "new-session"
    created, again = await ams.get_or_create_working_memory("new-session", user_id="bob")
    assert created is False and again.user_id == "bob" and again.namespace == "app"


async def test_list_sessions(ams: MemoryAPIClient) -> None:
    for i in range(5):
        await ams.get_or_create_working_memory(f"s{i}", user_id="carol")
    await ams.get_or_create_working_memory("other", user_id="dave")
    listed = await ams.list_sessions(limit=3)
    assert listed.total == 6 and listed.sessions == ["other", "s4", "s3"]
    by_user = await ams.list_sessions(user_id="carol", limit=10, offset=1)
    assert by_user.total == 5 and by_user.sessions == ["s3", "s2", "s1", "s0"]


async def test_append_messages(ams: MemoryAPIClient) -> None:
    await ams.append_messages_to_working_memory(
        "conv", [{"role": "user", "content": "first"}], user_id="erin"
    )
    result = await ams.append_messages_to_working_memory(
        "conv",
        [{"role": "assistant", "content": "second"}, MemoryMessage(role="user", content="3rd")],
        user_id="erin",
    )
    assert [m.content for m in result.messages] == ["first", "second", "3rd"]
    got = await ams.get_working_memory("conv", user_id="erin")
    assert len(got.messages) == 3
