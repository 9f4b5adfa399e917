"""Deduplication on create, and compaction."""

from __future__ import annotations

from typing import Any

import pytest

from remem.errors import Conflict
from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord


async def test_same_id_updates_in_place_keeping_created_at(
    service: LongTermMemoryService,
) -> None:
    [first] = await service.create([MemoryRecord(id="m", text="one", namespace="n")])
    before = await service.get("m")
    [again] = await service.create([MemoryRecord(id="m", text="two", namespace="n")])
    after = await service.get("m")
    assert (first.status, again.status) == ("created", "updated")
    assert after.text == "two" and after.created_at == before.created_at


async def test_same_id_in_another_scope_is_a_conflict(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="m", text="one", namespace="n")])
    with pytest.raises(Conflict):
        await service.create([MemoryRecord(id="m", text="one", namespace="other")])
    with pytest.raises(Conflict):
        await service.create([MemoryRecord(id="m", text="one", namespace="n", user_id="u")])


async def test_same_text_in_same_scope_is_skipped(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="a", text="likes tea", user_id="u")])
    out = await service.create(
        [
            MemoryRecord(id="b", text="likes tea", user_id="u"),
            MemoryRecord(id="c", text="likes tea", user_id="v"),
            MemoryRecord(id="d", text="likes tea", user_id="v"),
        ]
    )
    assert [(c.id, c.status) for c in out] == [
        ("a", "duplicate"),
        ("c", "created"),
        ("c", "duplicate"),  # within one batch too: d is c
    ]


async def test_near_duplicates_merge_into_the_existing_memory(
    service: LongTermMemoryService,
) -> None:
    await service.create([MemoryRecord(id="a", text="Alice likes tea", topics=["food"])])
    [out] = await service.create(
        [MemoryRecord(id="b", text="alice LIKES tea!", topics=["drinks"], entities=["Alice"])]
    )
    assert (out.id, out.status) == ("a", "merged")
    merged = await service.get("a")
    assert merged.text == "Alice likes tea"
    assert merged.topics == ["food", "drinks"] and merged.entities == ["Alice"]
    assert merged.updated_at > merged.created_at


@pytest.mark.parametrize(
    "other",
    [
        {"namespace": "elsewhere"},
        {"user_id": "someone"},
        {"pinned": True},
    ],
)
async def test_no_merge_across_scopes_or_with_pinned(
    service: LongTermMemoryService, other: dict[str, Any]
) -> None:
    await service.create([MemoryRecord(id="a", text="alice likes tea")])
    [out] = await service.create([MemoryRecord(id="b", text="Alice likes tea!", **other)])
    assert (out.id, out.status) == ("b", "created")


async def test_pinned_memories_never_absorb(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="a", text="alice likes tea", pinned=True)])
    [out] = await service.create([MemoryRecord(id="b", text="Alice likes tea!")])
    assert (out.id, out.status) == ("b", "created")


async def test_without_deduplication_everything_is_stored(
    service: LongTermMemoryService,
) -> None:
    out = await service.create(
        [MemoryRecord(id="a", text="x y"), MemoryRecord(id="b", text="x y")], deduplicate=False
    )
    assert [c.status for c in out] == ["created", "created"]


async def test_compact_merges_hash_then_semantic_duplicates(
    service: LongTermMemoryService,
) -> None:
    await service.create(
        [
            MemoryRecord(id="a", text="likes tea", topics=["t1"]),
            MemoryRecord(id="b", text="likes tea"),
            MemoryRecord(id="c", text="Likes tea!", topics=["t2"]),
            MemoryRecord(id="d", text="plays chess"),
            MemoryRecord(id="e", text="likes tea", namespace="other"),
            MemoryRecord(id="p", text="likes TEA", pinned=True),
        ],
        deduplicate=False,
    )
    assert await service.compact() == 4  # a (absorbed b, c), d, e, p
    kept = await service.get("a")
    assert kept.topics == ["t1", "t2"]
    assert await service.compact(namespace="other") == 1
