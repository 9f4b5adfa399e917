"""Keyword scores under a filter: a memory scores the BM25 of the query words it holds, the same
with the caller's filter as without one. RediSearch 2.10 scored the filter's tag values as if
they were words (the user's and the namespace's tags are rare, so they outweighed the words)."""

from __future__ import annotations

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.store.longterm import LongTermStore
from remem.store.query import MATCH_ALL, every, tag_is
from tests.longterm.conftest import WordEmbedder

TEXTS = [
    "User works at Globex",
    "User has a dog called Max",
    "User leads the search team at Globex and mentors two juniors",
    "User is single after breaking up with Sam",
    "A dog park opened near the office",
]


async def test_a_filter_does_not_change_a_memory_s_keyword_score(store: LongTermStore) -> None:
    service = LongTermMemoryService(store, WordEmbedder(), access_flush_seconds=3600)
    await service.start()
    try:
        records = [
            MemoryRecord(id=f"{who}-{n}", text=t, user_id=who, namespace="ns")
            for who in ("ann", "bob")
            for n, t in enumerate(TEXTS)
        ]
        await service.create(records, deduplicate=False)
    finally:
        await service.close()
    mine = every(tag_is("namespace", "ns"), tag_is("user_id", "ann"))
    assert mine is not None
    for words in (["dog"], ["user", "dog"], ["globex", "team", "user"]):
        _, everyone = await store.index.keyword(MATCH_ALL, words, 100)
        total, filtered = await store.index.keyword(mine, words, 100)
        unfiltered = {c.id: c.value for c in everyone}
        assert total == len(filtered) > 0
        for hit in filtered:
            assert hit.id.startswith("ann-")
            assert abs(hit.value - unfiltered[hit.id]) < 1e-9, (words, hit, unfiltered[hit.id])
    # the memory holding the rarer word comes first, not the shortest holding "user"
    _, ranked = await store.index.keyword(mine, ["user", "dog"], 100)
    assert ranked[0].id == "ann-1"
