"""Deduplication on create, and compaction."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from remem.errors import Conflict, NotFound
from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.store.longterm import LongTermStore
from tests.longterm.conftest import WordEmbedder


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


async def test_a_normalised_copy_adds_its_tags_to_the_existing_memory(
    service: LongTermMemoryService,
) -> None:
    await service.create([MemoryRecord(id="a", text="Alice likes tea", topics=["food"])])
    [out] = await service.create(
        [MemoryRecord(id="b", text="alice  LIKES tea!", topics=["drinks"], entities=["Alice"])]
    )
    assert (out.id, out.status) == ("a", "duplicate")
    kept = await service.get("a")
    assert kept.text == "Alice likes tea"
    assert kept.topics == ["food", "drinks"] and kept.entities == ["Alice"]
    assert kept.updated_at > kept.created_at


async def test_similar_texts_never_merge_without_a_decision(
    service: LongTermMemoryService,
) -> None:
    """Same words in another order, one word more: distinct texts, distinct memories."""
    texts = ["Alice likes tea", "tea likes Alice", "Alice likes tea a lot", "Alice likes teas"]
    out = await service.create([MemoryRecord(id=f"m{n}", text=t) for n, t in enumerate(texts)])
    assert [c.status for c in out] == ["created"] * 4
    out = await service.create(
        [MemoryRecord(id=f"x{n}", text=t + " now") for n, t in enumerate(texts)]
    )
    assert [c.status for c in out] == ["created"] * 4


@pytest.mark.parametrize(
    "other",
    [
        {"namespace": "elsewhere"},
        {"user_id": "someone"},
        {"memory_type": "episodic"},
    ],
)
async def test_no_merge_across_scopes_or_types(
    service: LongTermMemoryService, other: dict[str, Any]
) -> None:
    await service.create([MemoryRecord(id="a", text="alice likes tea")])
    [out] = await service.create([MemoryRecord(id="b", text="Alice likes tea!", **other)])
    assert (out.id, out.status) == ("b", "created")


async def test_a_pinned_copy_pins_the_existing_memory(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="a", text="alice likes tea")])
    [out] = await service.create([MemoryRecord(id="b", text="Alice likes tea!", pinned=True)])
    assert (out.id, out.status) == ("a", "duplicate")
    assert (await service.get("a")).pinned
    out = await service.create(
        [
            MemoryRecord(id="c", text="bob likes tea"),
            MemoryRecord(id="d", text="Bob likes tea.", pinned=True),
        ]
    )
    assert [(c.id, c.status) for c in out] == [("c", "created"), ("c", "duplicate")]
    assert (await service.get("c")).pinned


async def test_pinned_memories_never_absorb(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="a", text="alice likes tea", pinned=True)])
    before = await service.get("a")
    [out] = await service.create([MemoryRecord(id="b", text="Alice likes tea!", topics=["t"])])
    assert (out.id, out.status) == ("a", "duplicate")
    assert await service.get("a") == before


async def test_without_deduplication_everything_is_stored(
    service: LongTermMemoryService,
) -> None:
    out = await service.create(
        [MemoryRecord(id="a", text="x y"), MemoryRecord(id="b", text="x y")], deduplicate=False
    )
    assert [c.status for c in out] == ["created", "created"]


async def test_compact_merges_copies_of_the_same_normalised_text_only(
    service: LongTermMemoryService,
) -> None:
    await service.create(
        [
            MemoryRecord(id="a", text="likes tea", topics=["t1"]),
            MemoryRecord(id="b", text="likes tea"),
            MemoryRecord(id="c", text="Likes  tea!", topics=["t2"]),
            MemoryRecord(id="d", text="likes green tea"),
            MemoryRecord(id="e", text="likes tea", namespace="other"),
            MemoryRecord(id="p", text="plays chess", pinned=True),
            MemoryRecord(id="q", text="Plays chess.", topics=["t3"]),
            MemoryRecord(id="r", text="plays chess on Monday"),
        ],
        deduplicate=False,
    )
    assert await service.compact() == 5  # a (absorbed b, c), d, e, p (q went), r
    assert (await service.get("a")).topics == ["t1", "t2"]
    assert (await service.get("p")).topics is None  # pinned: left as it was
    assert await service.compact(namespace="other") == 1


def legacy_hash(text: str, namespace: str | None = None) -> str:
    """memory_hash as remem computed it before texts were normalised."""
    canon = json.dumps([text, namespace or "", "", "semantic"], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


async def test_memories_stored_with_the_former_hash_still_deduplicate(
    service: LongTermMemoryService, store: LongTermStore, embedder: WordEmbedder
) -> None:
    """An exact copy is found by the former hash at once, a normalised copy after a compaction
    (which writes today's hash); a memory with no hash at all breaks nothing."""
    records = [MemoryRecord(id="old", text="Likes tea."), MemoryRecord(id="bare", text="Plays go")]
    vectors = await embedder.embed_batch([r.text for r in records])
    old, bare = (to_doc(r, v) for r, v in zip(records, vectors, strict=True))
    old["memory_hash"] = legacy_hash("Likes tea.")
    del bare["memory_hash"]
    await store.documents.upsert_many([old, bare])

    [out] = await service.create([MemoryRecord(id="n1", text="Likes tea.")])
    assert (out.id, out.status) == ("old", "duplicate")
    out = await service.create(
        [MemoryRecord(id="n2", text="likes tea"), MemoryRecord(id="n3", text="plays go")]
    )
    assert [c.status for c in out] == ["created", "created"]  # not found by hash yet

    assert await service.compact() == 2  # n2 into old, n3 into bare
    assert [(await service.get(i)).text for i in ("old", "bare")] == ["Likes tea.", "Plays go"]
    out = await service.create(
        [MemoryRecord(id="n4", text="LIKES TEA"), MemoryRecord(id="n5", text="Plays Go!")]
    )
    assert [(c.id, c.status) for c in out] == [("old", "duplicate"), ("bare", "duplicate")]


async def test_a_merge_decision_plugs_in(store: LongTermStore, embedder: WordEmbedder) -> None:
    """With a decision (here: the same words in any order), the nearest memory is offered to it
    and absorbs the newcomer it accepts, within a request, across requests and in compaction."""
    asked: list[tuple[str, str]] = []

    async def same_words(newcomer: dict[str, Any], candidate: dict[str, Any]) -> bool:
        asked.append((newcomer["text"], candidate["text"]))
        return sorted(newcomer["text"].lower().split()) == sorted(candidate["text"].lower().split())

    service = LongTermMemoryService(
        store, embedder, dedup_candidate_distance=0.5, merge_decision=same_words
    )
    out = await service.create(
        [
            MemoryRecord(id="a", text="Alice likes tea", topics=["t1"]),
            MemoryRecord(text="tea likes Alice", topics=["t2"]),  # a generated id: mergeable
            MemoryRecord(id="c", text="Alice likes coffee"),
        ]
    )
    assert [(c.id, c.status) for c in out] == [("a", "created"), ("a", "merged"), ("c", "created")]
    [out] = await service.create([MemoryRecord(text="likes Alice tea", topics=["t3"])])
    assert (out.id, out.status) == ("a", "merged")
    assert (await service.get("a")).topics == ["t1", "t2", "t3"]
    assert asked

    await service.create(
        [MemoryRecord(id="e", text="Bob plays go"), MemoryRecord(id="f", text="go plays Bob")],
        deduplicate=False,
    )
    assert await service.compact() == 4  # f is an id the caller chose: never merged away
    await service.create([MemoryRecord(text="Bob plays go twice a week")], deduplicate=False)
    await service.create([MemoryRecord(text="go twice a week plays Bob")], deduplicate=False)
    assert await service.compact() == 5  # the second (a generated id) absorbed
    await service.close()


async def test_a_copy_of_a_text_this_request_replaces_is_stored(
    service: LongTermMemoryService,
) -> None:
    """A memory this request rewrites with another text cannot hold a copy of its old text."""
    await service.create([MemoryRecord(id="a", text="likes tea"), MemoryRecord(id="c", text="x")])
    out = await service.create(
        [
            MemoryRecord(id="b", text="Likes tea!"),  # a copy of a's text as stored...
            MemoryRecord(id="e", text="likes TEA"),  # ...and another...
            MemoryRecord(id="a", text="likes coffee"),  # ...which this request replaces
            MemoryRecord(id="c", text="plays go"),
            MemoryRecord(id="d", text="Plays go."),  # a copy of c's new text
        ]
    )
    assert [(c.id, c.status) for c in out] == [
        ("b", "created"),
        ("b", "duplicate"),
        ("a", "updated"),
        ("c", "updated"),
        ("c", "duplicate"),
    ]
    assert [(await service.get(i)).text for i in "abc"] == [
        "likes coffee",
        "Likes tea!",
        "plays go",
    ]
    for copy in "de":
        with pytest.raises(NotFound):
            await service.get(copy)


async def test_a_batch_finds_each_texts_oldest_copy_however_many_copies_are_stored(
    service: LongTermMemoryService,
) -> None:
    """The request's stored copies are asked for in one query a scope: copies of one text
    that fill its page still leave every other text its oldest copy, in each scope."""
    from datetime import UTC, datetime, timedelta

    start = datetime(2025, 1, 1, tzinfo=UTC)
    stored = [  # 40 copies of "fact 0", all older than the other texts' copies
        MemoryRecord(id=f"zero{i}", text="fact 0", namespace="n", created_at=start + timedelta(i))
        for i in range(40)
    ]
    for scope in ("n", "m"):
        stored += [
            MemoryRecord(
                id=f"{scope}{i}-{k}", text=f"fact {i}", namespace=scope,
                created_at=start + timedelta(days=100 + 10 * i + k),
            )
            for i in range(1, 12)
            for k in (1, 0)  # the younger copy stored first
        ]  # fmt: skip
    await service.create(stored, deduplicate=False)
    asked = [
        MemoryRecord(id=f"new-{s}{i}", text=f"fact {i}", namespace=s)
        for s in "nm"
        for i in range(13)
    ]
    out = await service.create(asked)
    expected = [("zero0", "duplicate")] + [(f"n{i}-0", "duplicate") for i in range(1, 12)]
    expected += [("new-n12", "created"), ("new-m0", "created")]
    expected += [(f"m{i}-0", "duplicate") for i in range(1, 12)] + [("new-m12", "created")]
    assert [(c.id, c.status) for c in out] == expected
