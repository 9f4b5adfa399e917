"""Without an LLM, a question about the user finds what the user said.

Extraction without an LLM keeps every message as a memory, the assistant's too, and an
assistant's reply often repeats the user's subject in more words ("Nursing is such a demanding
job"). A question in the first person ("What is my job?") therefore prefers the memories of the
user's own messages (``first_person_boost``), with no ``search_mode`` named, as the official
client sends it.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from agent_memory_client.models import MemoryMessage, WorkingMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.serving import official_client

warnings.filterwarnings("ignore", category=DeprecationWarning)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHAT = [
    ("user", "Hi! Can you help me plan my week?"),
    ("assistant", "Of course. What does a typical week look like for you?"),
    ("user", "I work as a pediatric nurse, mostly night shifts at the children's hospital."),
    ("assistant", "Night shifts are hard on sleep. A fixed wind-down routine helps a lot."),
    ("user", "I usually get home around 8 in the morning and sleep until 3."),
    ("assistant", "Then the late afternoon is your best time for errands and exercise."),
    ("user", "I also have two cats, Miso and Tofu, and a golden retriever called Biscuit."),
    ("assistant", "Biscuit will need a long walk; the cats mostly need their feeding times."),
    ("user", "Biscuit gets walked at 4 pm, before it gets dark."),
    ("assistant", "Good. Shall I put the walk in the plan every day?"),
    ("user", "Yes please, and a grocery run on Saturday."),
    ("assistant", "Done. Anything you want to cook this week?"),
    ("user", "Something quick, like a stir fry. I'm vegetarian."),
    ("assistant", "A tofu and broccoli stir fry takes twenty minutes. I can add a recipe."),
    ("user", "Great. My sister is visiting on Sunday too."),
    ("assistant", "Nice! Should I block the afternoon for her visit?"),
    ("user", "Yes, from 2 to 6."),
    ("assistant", "Your job sounds demanding, so I left Monday morning free for rest."),
    ("user", "Thanks, that's thoughtful."),
    ("assistant", "Your pets and your work are both in the plan. Have a good week!"),
]


@pytest.fixture
def quick(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"extraction_debounce_seconds": 0.2, "task_poll_seconds": 0.05}
    )


@pytest.fixture
async def ams(quick: Settings) -> AsyncIterator[Any]:
    """The official client, over HTTP, after the chat above became long-term memory."""
    async with official_client(create_app(quick), "chat") as client:
        messages = [
            MemoryMessage(
                role=role, content=text, id=f"m{i}", created_at=START + timedelta(minutes=i)
            )
            for i, (role, text) in enumerate(CHAT)
        ]
        memory = WorkingMemory(session_id="week", user_id="sam", messages=messages)
        await client.put_working_memory("week", memory, user_id="sam")

        async def extracted() -> bool:
            session = await client.get_working_memory("week", user_id="sam")
            return all(m.discrete_memory_extracted == "t" for m in session.messages)

        await wait_until(extracted, timeout=30)
        yield client


async def top(ams: Any, question: str) -> list[str]:
    found = await ams.search_long_term_memory(text=question, user_id={"eq": "sam"}, limit=3)
    return [m.text for m in found.memories]


async def test_my_job_finds_what_the_user_said(ams: Any) -> None:
    """ "What is my job?" has the user's own "I work as a pediatric nurse" in the top 3."""
    assert f"user: {CHAT[2][1]}" in await top(ams, "What is my job?")


async def test_my_pets_finds_what_the_user_said(ams: Any) -> None:
    """ "What pets do I have?" has the user's own "I also have two cats..." in the top 3."""
    assert f"user: {CHAT[6][1]}" in await top(ams, "What pets do I have?")
