"""POST /v1/memory/prompt: the official client's `memory_prompt` and `hydrate_memory_prompt`
unchanged over real HTTP, the upstream server's message shapes, and what remem adds (a search
for the query when `long_term_search` is true, token budgets, a 400 with the reason)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from agent_memory_client import MemoryAPIClient
from agent_memory_client.models import ClientMemoryRecord, WorkingMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import official_client

NS = "prompt"
TURNS = [
    ("user", "I am planning a trip to Lisbon in May"),
    ("assistant", "Lovely! Do you want hotel ideas?"),
    ("user", "Yes, somewhere near the river please"),
]
FACTS = [
    ("f-tea", "Alice prefers green tea in the morning", "alice", "old"),
    ("f-river", "Alice likes hotels with a view of the river", "alice", "old"),
    ("f-bob", "Bob likes hotels with a view of the river", "bob", "old"),
    ("f-here", "Alice asked about Lisbon hotels", "alice", "chat"),
]


@pytest.fixture
async def ams(settings: Settings) -> AsyncIterator[MemoryAPIClient]:
    async with official_client(create_app(settings), NS) as client:
        await client.put_working_memory(
            "chat",
            WorkingMemory(
                session_id="chat",
                namespace=NS,
                user_id="alice",
                context="Alice wants to travel in spring.",
                messages=[{"role": r, "content": c} for r, c in TURNS],
            ),
            user_id="alice",
        )
        await client.create_long_term_memory(
            [
                ClientMemoryRecord(id=i, text=t, user_id=u, session_id=s, namespace=NS)
                for i, t, u, s in FACTS
            ]
        )
        yield client


def texts(prompt: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]["text"]) for m in prompt["messages"]]


async def test_memory_prompt_renders_the_session_and_memories_as_upstream(
    ams: MemoryAPIClient,
) -> None:
    prompt = await ams.memory_prompt(
        "which hotel should I pick?",
        session_id="chat",
        namespace=NS,
        user_id="alice",
        long_term_search={"limit": 2, "user_id": {"eq": "alice"}},
    )
    got = texts(prompt)
    assert got[0] == (
        "system",
        "## A summary of the conversation so far:\nAlice wants to travel in spring.",
    )
    assert got[1:4] == list(TURNS)
    role, listing = got[4]
    assert role == "system"
    assert listing.startswith("## Long term memories related to the user's query\n - ")
    assert "Alice likes hotels with a view of the river (ID: f-river)" in listing
    assert "Bob" not in listing  # the user filter holds
    assert got[5] == ("user", "which hotel should I pick?")
    assert len(prompt["long_term_memories"]) == 2
    assert "f-river" in {m["id"] for m in prompt["long_term_memories"]}
    # MCP's message shape, as the upstream server (mcp 1.23) serialises it
    assert prompt["messages"][0]["content"] == {
        "type": "text",
        "text": got[0][1],
        "annotations": None,
        "_meta": None,
    }


async def test_memory_prompt_with_a_session_only(ams: MemoryAPIClient) -> None:
    prompt = await ams.memory_prompt(
        "and the hotel?", session_id="chat", namespace=NS, user_id="alice"
    )
    assert texts(prompt) == [
        ("system", "## A summary of the conversation so far:\nAlice wants to travel in spring."),
        *TURNS,
        ("user", "and the hotel?"),
    ]
    assert prompt["long_term_memories"] is None


async def test_memory_prompt_with_a_long_term_search_only(ams: MemoryAPIClient) -> None:
    prompt = await ams.memory_prompt(
        "river view", long_term_search={"user_id": {"eq": "bob"}, "limit": 3}
    )
    got = texts(prompt)
    assert [r for r, _ in got] == ["system", "user"] and "(ID: f-bob)" in got[0][1]
    assert [m["id"] for m in prompt["long_term_memories"]] == ["f-bob"]


async def test_hydrate_memory_prompt_searches_long_term_memory_only(ams: MemoryAPIClient) -> None:
    prompt = await ams.hydrate_memory_prompt(
        "river view hotel", namespace={"eq": NS}, user_id={"eq": "bob"}, limit=5
    )
    got = texts(prompt)
    assert [r for r, _ in got] == ["system", "user"]
    assert "(ID: f-bob)" in got[0][1] and "f-river" not in got[0][1]
    assert [m["id"] for m in prompt["long_term_memories"]] == ["f-bob"]


async def test_long_term_search_true_searches_for_the_query_in_the_sessions_scope(
    ams: MemoryAPIClient,
) -> None:
    """Upstream searched with no text here (so it listed the newest memories): remem searches
    for the query, for the session's namespace and user, without the session's own memories."""
    r = await ams._client.post(
        "/v1/memory/prompt",
        json={
            "query": "a hotel by the river",
            "session": {"session_id": "chat", "namespace": NS, "user_id": "alice"},
            "long_term_search": True,
        },
    )
    assert r.status_code == 200, r.text
    found = [m["id"] for m in r.json()["long_term_memories"]]
    assert found[0] == "f-river"
    assert "f-bob" not in found and "f-here" not in found


async def test_token_budgets_drop_the_oldest_messages_and_the_lowest_ranked_memories(
    ams: MemoryAPIClient,
) -> None:
    body = {
        "query": "a hotel by the river",
        "session": {"session_id": "chat", "namespace": NS, "user_id": "alice"},
        "long_term_search": {"namespace": {"eq": NS}, "user_id": {"eq": "alice"}},
        "session_token_budget": 25,
        "long_term_token_budget": 20,
    }
    r = await ams._client.post("/v1/memory/prompt", json=body)
    assert r.status_code == 200, r.text
    got = texts(r.json())
    assert got[0][1].endswith("Alice wants to travel in spring.")  # the summary is kept
    assert got[1:3] == list(TURNS[1:])  # the oldest message left (each costs about 10 tokens)
    assert [m["id"] for m in r.json()["long_term_memories"]] == ["f-river"]


async def test_an_unknown_session_is_empty_and_neither_part_is_a_400(
    ams: MemoryAPIClient,
) -> None:
    r = await ams._client.post(
        "/v1/memory/prompt", json={"query": "hi", "session": {"session_id": "nobody"}}
    )
    assert r.status_code == 200, r.text
    assert texts(r.json()) == [("user", "hi")]
    bad = await ams._client.post("/v1/memory/prompt", json={"query": "hi"})
    assert bad.status_code == 400
    assert "Either session or long_term_search must be provided" in bad.text


async def test_a_model_window_keeps_the_newest_messages(settings: Settings) -> None:
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=(app := create_app(settings))), base_url="http://t"
        ) as client,
        app.router.lifespan_context(app),
    ):
        await client.put(
            "/v1/working-memory/long",
            json={
                "messages": [{"role": "user", "content": f"message {i} " * 20} for i in range(50)]
            },
        )
        r = await client.post(
            "/v1/memory/prompt",
            json={"query": "q", "session": {"session_id": "long", "context_window_max": "200"}},
        )
        assert r.status_code == 200, r.text
        kept = texts(r.json())[:-1]
        assert 1 <= len(kept) < 50 and kept[-1][1].startswith("message 49 ")
