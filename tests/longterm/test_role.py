"""A memory's ``role`` (who said the message it came from): stored, filtered like any tag, and
preferred for first-person questions."""

from __future__ import annotations

from typing import Any

from remem.memory.longterm import LongTermMemoryService
from remem.memory.search import first_person, semantic_text
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest, TagFilter


def req(**kw: Any) -> SearchRequest:
    return SearchRequest.model_validate({"recency_boost": False, "entity_boost": 0, **kw})


async def seed(service: LongTermMemoryService) -> None:
    await service.create(
        [
            MemoryRecord(id="u1", text="i keep bees on the roof", role="user"),
            MemoryRecord(id="a1", text="bees on the roof need shade", role="assistant"),
            MemoryRecord(id="n1", text="bees are insects"),
        ],
        deduplicate=False,
    )


async def test_role_is_kept_and_filtered(service: LongTermMemoryService) -> None:
    await seed(service)
    assert (await service.get("u1")).role == "user"
    assert (await service.get("n1")).role is None
    for mode in ("semantic", "keyword", "hybrid"):
        found = await service.search(req(text="bees", search_mode=mode, role=TagFilter(eq="user")))
        assert [m.id for m in found.memories] == ["u1"], mode
        others = await service.search(req(text="bees", search_mode=mode, role=TagFilter(ne="user")))
        assert sorted(m.id for m in others.memories) == ["a1", "n1"], mode


async def test_first_person_question_prefers_the_users_words(
    service: LongTermMemoryService,
) -> None:
    await seed(service)
    question = (
        "do my bees on the roof need shade"  # the assistant's words, asked in the first person
    )
    plain = await service.search(req(text=question, first_person_boost=0))
    assert plain.memories[0].id == "a1"
    boosted = await service.search(req(text=question, first_person_boost=1.0))
    assert boosted.memories[0].id == "u1"


def test_first_person_questions_embed_their_content_words() -> None:
    assert first_person(req(text="What is my job?"))
    assert semantic_text(req(text="What is my job?")) == "job"
    assert semantic_text(req(text="What pets do I have?")) == "pets"
    assert not first_person(req(text="What is Ann's job?"))
    assert semantic_text(req(text="What is Ann's job?")) == "What is Ann's job?"
    assert not first_person(req(text="What is my job?", first_person_boost=0))
    assert semantic_text(req(text="who am I")) == "who am I"  # nothing but stop words: as asked
