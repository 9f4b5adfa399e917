"""Without any LLM or API key: a conversation written with the official client, unchanged,
becomes searchable long-term memory."""

from __future__ import annotations

import warnings

from agent_memory_client.models import MemoryMessage, WorkingMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.serving import official_client

warnings.filterwarnings("ignore", category=DeprecationWarning)


async def test_conversation_through_agent_memory_client_becomes_searchable(
    quick: Settings,
) -> None:
    assert quick.embedding_provider == "local"  # no key anywhere
    turns = [
        ("user", "I'm planning a trip to Kyoto in April"),
        ("assistant", "April is cherry blossom season in Kyoto"),
        ("user", "My budget is about 2000 euros"),
    ]
    async with official_client(create_app(quick), "app") as ams:
        memory = WorkingMemory(session_id="trip", user_id="dana", messages=[])
        await ams.put_working_memory("trip", memory, user_id="dana")
        for role, content in turns:  # turn by turn, as an agent writes them
            await ams.append_messages_to_working_memory(
                "trip", [MemoryMessage(role=role, content=content)], user_id="dana"
            )

        async def found() -> list:
            results = await ams.search_long_term_memory(
                text="Kyoto trip budget", namespace={"eq": "app"}, user_id={"eq": "dana"}
            )
            return results.memories if len(results.memories) == 3 else []

        memories = await wait_until(found, timeout=15)
        assert sorted(m.text for m in memories) == sorted(f"{r}: {c}" for r, c in turns)
        assert {(m.namespace, m.user_id, m.session_id) for m in memories} == {
            ("app", "dana", "trip")
        }
        session = await ams.get_working_memory("trip", user_id="dana")
        assert [m.discrete_memory_extracted for m in session.messages] == ["t", "t", "t"]
