"""Ids and tags with every query-syntax character, spaces, unicode and 1 KB: stored and
filtered exactly; and the exact query strings the new builders make."""

from __future__ import annotations

import asyncio

import pytest

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.store.keys import Keys
from remem.store.query import HasValue, TagIn, knn, tag_present, text_any, vector_range
from tests.helpers import HOSTILE_IDS


def test_builders_escape_hostile_values() -> None:
    assert (~TagIn("topics", ("a-b", "x y"))).render() == "-@topics:{a\\-b | x\\ y}"
    assert tag_present("namespace") == "@namespace:{w'*'}"
    assert (~HasValue("namespace")).render() == "-@namespace:{w'*'}"
    assert text_any("search_text", ["tea", "ü$"]) == "@search_text:(tea|ü\\$)"
    assert vector_range("embedding") == "@embedding:[VECTOR_RANGE $radius $vec]"
    assert knn("@a:{x}", "embedding") == "(@a:{x})=>[KNN $K @embedding $vec AS dist]"


def test_memory_keys_cannot_collide() -> None:
    keys = Keys("p:")
    assert keys.memory("a:b") == "p:mem:a%3Ab"
    assert len({keys.memory(v) for v in HOSTILE_IDS}) == len(HOSTILE_IDS)
    assert all(keys.parse_memory(keys.memory(v)) == v for v in HOSTILE_IDS)


async def test_hostile_values_are_stored_and_filtered_exactly(
    service: LongTermMemoryService,
) -> None:
    records = [
        MemoryRecord(
            id=value,
            text=f"memory {i}",
            namespace=value,
            user_id=value,
            session_id=value,
            topics=[value, "common"],
            entities=[value],
        )
        for i, value in enumerate(HOSTILE_IDS)
    ]
    await service.create(records, deduplicate=False)
    for value in HOSTILE_IDS:
        stored = await service.get(value)
        assert (stored.id, stored.namespace, stored.topics) == (value, value, [value, "common"])
        for field in ("namespace", "user_id", "session_id", "topics", "entities"):
            found = await service.search(
                SearchRequest.model_validate(
                    {"text": "memory", field: {"eq": value}, "recency_boost": False}
                )
            )
            assert [m.id for m in found.memories] == [value], (field, value)
            others = await service.search(
                SearchRequest.model_validate({"text": "memory", field: {"ne": value}, "limit": 100})
            )
            assert others.total == len(HOSTILE_IDS) - 1
        starts = [v for v in HOSTILE_IDS if v.startswith(value[:1])]
        found = await service.search(
            SearchRequest.model_validate(
                {"text": "x", "topics": {"startswith": value[:1], "ne": "common"}, "limit": 100}
            )
        )
        assert found.total == 0  # every memory has "common"
        found = await service.search(
            SearchRequest.model_validate(
                {"text": "x", "namespace": {"startswith": value[:2]}, "limit": 100}
            )
        )
        assert sorted(m.id for m in found.memories) == sorted(
            v for v in HOSTILE_IDS if v.startswith(value[:2])
        )
        assert starts


async def test_unknown_memory_type_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SearchRequest.model_validate({"memory_type": {"eq": "nonsense"}})
    SearchRequest.model_validate({"memory_type": {"in_": ["episodic", "message"]}})


async def test_400_memories_from_16_concurrent_writers_are_all_searchable(
    service: LongTermMemoryService,
) -> None:
    def text(w: int, b: int, i: int) -> str:  # words no other memory has, and "note"
        return " ".join(f"{part}{w}x{b}x{i}" for part in "abcd") + " note"

    async def writer(w: int) -> None:
        for b in range(5):
            await service.create(
                [MemoryRecord(id=f"w{w}-{b}-{i}", text=text(w, b, i)) for i in range(5)],
                deduplicate=True,
            )

    await asyncio.gather(*(writer(w) for w in range(16)))
    everything = await service.search(
        SearchRequest(text="note", search_mode="keyword", limit=1000, recency_boost=False)
    )
    assert everything.total == 400
    assert len({m.id for m in everything.memories}) == 400
    one = await service.search(SearchRequest(text=text(7, 3, 2), limit=1))
    assert one.memories[0].id == "w7-3-2"
