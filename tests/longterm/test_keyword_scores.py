"""Keyword ranking when every memory holds a query word: RediSearch 2.10's IDF of such a word
wraps once rewritten memories leave stale postings, and the word must not decide the order."""

from __future__ import annotations

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.store.longterm import LongTermStore
from tests.longterm.conftest import WordEmbedder


async def wrapped_idf(store: LongTermStore, word: str) -> float:
    """The IDF RediSearch gives ``word`` now (its own explanation of one memory's score)."""
    reply = await store.redis.execute_command(
        "FT.SEARCH", store.index.name, f"@search_text:({word})",
        "WITHSCORES", "EXPLAINSCORE", "SCORER", "BM25STD", "NOCONTENT", "LIMIT", 0, 1,
        "DIALECT", 2,
    )  # fmt: skip
    explained = str(reply["results"][0]["score"][1] if isinstance(reply, dict) else reply[2][1])
    return float(explained.split("IDF ")[1].split(" ")[0])


async def test_a_word_every_memory_holds_does_not_outweigh_the_ones_that_tell(
    store: LongTermStore,
) -> None:
    """Every memory says "User ...". Once a memory is rewritten, RediSearch 2.10 counts the
    old copy in the word's postings until its garbage collector runs (after 100 such), the
    count passes the memories indexed, and the IDF of "user" wraps from about 0 to about 38:
    ranked by BM25 alone, a short memory holding "park" (in four memories) came before a
    longer one holding "dog" (in one). Words every filtered memory holds are weighted 0.0001,
    so the rarer word decides."""
    service = LongTermMemoryService(store, WordEmbedder(), access_flush_seconds=3600)
    await service.start()
    try:
        ann = ["User has a dog called Max", "User walks in the park", "User reads novels"]
        bob = ["User likes the park", "User runs in the park", "User sketches the park"]
        records = [MemoryRecord(id=f"a{n}", text=t, user_id="ann") for n, t in enumerate(ann)]
        records += [MemoryRecord(id=f"b{n}", text=t, user_id="bob") for n, t in enumerate(bob)]
        await service.create(records, deduplicate=False)
        assert await wrapped_idf(store, "user") < 1  # every memory holds it: about 0
        rewritten = MemoryRecord(id="a2", text="User reads long novels", user_id="ann")
        await service.create([rewritten], deduplicate=False)
        assert await wrapped_idf(store, "user") > 30  # the engine's wrap, before its collector
        request = SearchRequest(
            text="user dog park",
            search_mode="keyword",
            user_id={"eq": "ann"},
            recency_boost=False,
            entity_boost=0,
        )
        found = await service.search(request)
        assert [m.id for m in found.memories[:2]] == ["a0", "a1"], found.memories
        assert found.total == 3  # every memory still matches: faint, not dropped
    finally:
        await service.close()
