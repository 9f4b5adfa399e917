"""Keyword scores under a filter: a memory scores the BM25 of the query words it holds, the same
with the caller's filter as without one. RediSearch 2.10 scored the filter's tag values as if
they were words (the user's and the namespace's tags are rare, so they outweighed the words)."""

from __future__ import annotations

import pytest

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
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


async def wrapped_idf(store: LongTermStore, word: str) -> float:
    """The IDF RediSearch gives ``word`` now (its own explanation of one memory's score)."""
    reply = await store.redis.execute_command(
        "FT.SEARCH", store.index.name, f"@search_text:({word})",
        "WITHSCORES", "EXPLAINSCORE", "SCORER", "BM25STD", "NOCONTENT", "LIMIT", 0, 1,
        "DIALECT", 2,
    )  # fmt: skip
    explained = str(reply["results"][0]["score"][1] if isinstance(reply, dict) else reply[2][1])
    return float(explained.split("IDF ")[1].split(" ")[0])


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
async def test_a_word_every_memory_holds_does_not_outweigh_the_one_that_tells(
    store: LongTermStore, mode: str
) -> None:
    """Every memory says "User ...". Once a memory is rewritten, RediSearch 2.10 counts the
    old copy in the word's postings until its garbage collector runs (after 100 such), the
    count passes the memories indexed, and the IDF of "user" wraps from about 0 to about 38:
    ranked by BM25 alone, the shortest memories came before the one holding "dog". Words that
    every filtered memory holds are weighted 0.0001, so the ranking is the same either way."""
    service = LongTermMemoryService(store, WordEmbedder(), access_flush_seconds=3600)
    await service.start()
    try:
        texts = [
            "User works at Globex",
            "User is single",
            "User likes green tea in the morning before work",
            "User has a dog called Max that sleeps under the kitchen table",
            "User reads novels",
        ]
        records = [MemoryRecord(id=f"m{n}", text=t, user_id="ann") for n, t in enumerate(texts)]
        await service.create(records, deduplicate=False)
        assert await wrapped_idf(store, "user") < 1  # every memory holds it: about 0
        rewritten = MemoryRecord(id="m1", text="User is single again", user_id="ann")
        await service.create([rewritten], deduplicate=False)
        assert await wrapped_idf(store, "user") > 30  # the engine's wrap, before its collector
        request = SearchRequest(
            text="Does the user have a dog?",
            search_mode=mode,
            user_id={"eq": "ann"},
            recency_boost=False,
            entity_boost=0,
        )
        found = await service.search(request)
        assert found.memories[0].id == "m3", [m.text for m in found.memories]
        assert found.total == 5  # every memory still matches: faint, not dropped
    finally:
        await service.close()
