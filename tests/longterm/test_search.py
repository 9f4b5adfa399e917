"""The three search modes, totals, paging and the recency boost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from remem.memory.longterm import LongTermMemoryService
from remem.memory.search import DAY
from remem.memory.words import index_terms, keywords, names, words_of
from remem.models.memory import MemoryRecord
from remem.models.search import NewMemoryRecord, SearchRequest
from remem.store.longterm import LongTermStore
from remem.store.query import MATCH_ALL, TagIn
from tests.longterm.conftest import DIMS, WordEmbedder

TEXTS = [
    "alice likes green tea in the morning",
    "bob drinks black coffee at work",
    "alice visited paris in spring",
    "the weather in paris was rainy",
    "carol plays the violin",
    "bob plays football on sundays",
    "green tea has less caffeine than coffee",
    "alice and carol met at the violin concert",
]


async def seed(service: LongTermMemoryService, **extra: Any) -> None:
    records = [MemoryRecord(id=f"t{i}", text=t, **extra) for i, t in enumerate(TEXTS)]
    await service.create(records, deduplicate=False)


def recency_component(
    req: SearchRequest, created_at: float, last_accessed: float, now: float
) -> float:
    """The recency formula of the module docstring, written plainly for one memory."""
    fresh = 2.0 ** (-max(0.0, now - last_accessed) / DAY / req.recency_half_life_last_access_days)
    novel = 2.0 ** (-max(0.0, now - created_at) / DAY / req.recency_half_life_created_days)
    return req.recency_freshness_weight * fresh + req.recency_novelty_weight * novel


def req(**kw: Any) -> SearchRequest:
    plain = {"search_mode": "semantic", "recency_boost": False, "entity_boost": 0}
    return SearchRequest.model_validate(plain | kw)


def test_keywords_drop_stop_words_and_repeats() -> None:
    assert keywords("What does Alice like? alice, the TEA!") == ["alic", "like", "tea"]
    assert keywords("walking walked walks") == ["walk"]  # stems, as the index stores them


async def test_semantic_ranks_nearest_first(service: LongTermMemoryService) -> None:
    await seed(service)
    result = await service.search(req(text="alice likes green tea in the morning"))
    assert result.memories[0].id == "t0"
    # FLOAT16 vectors (store.longterm.layout): a distance is within 1e-3 of the exact one.
    assert result.memories[0].dist == pytest.approx(0.0, abs=1e-3)
    dists = [m.dist for m in result.memories]
    assert dists == sorted(dists)
    assert result.total == len(TEXTS)
    assert result.memories[0].score_type == "semantic"


async def test_distance_threshold_counts_exactly(service: LongTermMemoryService) -> None:
    await seed(service)
    everything = await service.search(req(text="alice paris", limit=100))
    cut = sorted(m.dist for m in everything.memories)[2] + 1e-6
    result = await service.search(req(text="alice paris", distance_threshold=cut, limit=1))
    within = [m for m in everything.memories if m.dist <= cut]
    assert result.total == len(within) >= 3
    assert result.next_offset == 1


async def test_keyword_is_bm25_over_words(service: LongTermMemoryService) -> None:
    await seed(service)
    result = await service.search(req(text="the violin", search_mode="keyword"))
    assert {m.id for m in result.memories} == {"t4", "t7"}
    assert result.total == 2
    assert all(m.score_type == "keyword" for m in result.memories)
    none = await service.search(req(text="the of and", search_mode="keyword"))
    assert none.total == len(TEXTS)  # no words left: everything, newest first


async def test_keyword_uses_search_text(service: LongTermMemoryService) -> None:
    from remem.models.search import NewMemoryRecord

    await service.create([NewMemoryRecord(id="s", text="she said yes", search_text="wedding")])
    result = await service.search(req(text="wedding", search_mode="keyword"))
    assert [m.id for m in result.memories] == ["s"]
    assert result.memories[0].text == "she said yes"


async def test_hybrid_fuses_both_lists(service: LongTermMemoryService) -> None:
    await seed(service)
    result = await service.search(req(text="coffee", search_mode="hybrid", limit=3))
    assert {m.id for m in result.memories[:2]} == {"t1", "t6"}
    assert result.total == len(TEXTS)  # no threshold: every memory is a semantic match
    assert all(0.0 <= (m.score or 0) <= 1.0 for m in result.memories)
    assert all(m.score_type == "hybrid" for m in result.memories)


async def test_hybrid_total_with_threshold_is_the_union(service: LongTermMemoryService) -> None:
    await seed(service)
    text = "alice coffee"
    sem = await service.search(req(text=text, distance_threshold=0.7, limit=100))
    kw = await service.search(req(text=text, search_mode="keyword", limit=100))
    hybrid = await service.search(
        req(text=text, search_mode="hybrid", distance_threshold=0.7, limit=100)
    )
    union = {m.id for m in sem.memories} | {m.id for m in kw.memories}
    assert hybrid.total == len(union)
    assert {m.id for m in hybrid.memories} == union


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
@pytest.mark.parametrize("boost", [False, True])
async def test_walking_all_pages_returns_each_match_once(
    service: LongTermMemoryService, mode: str, boost: bool
) -> None:
    now = datetime.now(UTC)
    records = [
        MemoryRecord(
            id=f"p{i:02d}",
            text=f"note {i} about topic {i % 7} and item {i % 5}",
            created_at=now - timedelta(days=i),
            last_accessed=now - timedelta(days=(i * 7) % 23),
        )
        for i in range(37)
    ]
    await service.create(records, deduplicate=False)
    seen: list[str] = []
    offset: int | None = 0
    total = None
    while offset is not None:
        page = await service.search(
            req(
                text="note topic 3 item",
                search_mode=mode,
                recency_boost=boost,
                offset=offset,
                limit=5,
            )
        )
        total = page.total
        seen += [m.id for m in page.memories]
        offset = page.next_offset
    assert total == len(seen) == len(set(seen))
    assert len(seen) == 37


async def test_recency_boost_prefers_fresh_memories(service: LongTermMemoryService) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=400)
    await service.create(
        [
            MemoryRecord(
                id="old", text="project deadline friday", created_at=old, last_accessed=old
            ),
            MemoryRecord(id="new", text="project deadline moved friday", created_at=now),
        ]
    )
    plain = await service.search(req(text="project deadline friday"))
    boosted = await service.search(req(text="project deadline friday", recency_boost=True))
    assert plain.memories[0].id == "old"
    assert boosted.memories[0].id == "new"


async def test_filters_are_never_dropped(service: LongTermMemoryService) -> None:
    await seed(service, namespace="n1")
    result = await service.search(req(text="alice", namespace={"eq": "other"}))
    assert result.total == 0 and result.memories == []
    assert result.next_offset is None


@pytest.mark.parametrize("adhoc_max", [10_000, 0], ids=["brute-force", "hnsw-batches"])
async def test_filtered_knn_finds_the_nearest_with_either_policy(
    store: LongTermStore, adhoc_max: int
) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [
        {
            "id": f"v{i}",
            "text": f"v{i}",
            "namespace": "many" if i % 5 else "few",
            "embedding": vectors[i].tolist(),
            "created_at": 1.0,
        }
        for i in range(300)
    ]
    await store.documents.upsert_many(docs)
    store.index.adhoc_max_matches = adhoc_max
    store.index.batches_min_selectivity = 0.0
    query_vector = vectors[0] + 0.3 * rng.normal(size=DIMS).astype(np.float32)
    query_vector /= np.linalg.norm(query_vector)
    for namespace in ("many", "few"):
        query = TagIn("namespace", (namespace,))
        counts = await store.cache.counts(query)
        assert (counts.matches, counts.size) == ((240, 300) if namespace == "many" else (60, 300))
        found = await store.index.nearest(query, query_vector, 10, counts=counts)
        members = [i for i in range(300) if docs[i]["namespace"] == namespace]
        dists = {f"v{i}": 1.0 - float(vectors[i] @ query_vector) for i in members}
        expected = sorted(dists, key=dists.__getitem__)[:10]
        got = [c.id for c in found]
        assert set(got) <= set(dists)  # never outside the filter
        overlap = len(set(got) & set(expected))
        # Brute force is exact; HNSW is approximate but must find nearly all of them.
        assert overlap == 10 if adhoc_max else overlap >= 8
        for c in found:
            assert c.value == pytest.approx(dists[c.id], abs=1e-3)  # FLOAT16 vectors


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_boosted_page_is_the_full_rerank_of_the_candidates(
    service: LongTermMemoryService, store: LongTermStore, mode: str
) -> None:
    """The boosted page is the best of every candidate, by the boosted score."""
    now = datetime.now(UTC)
    records = [
        MemoryRecord(
            id=f"r{i:03d}",
            text=f"report {i % 9} on the {['garden', 'budget', 'trip'][i % 3]} and item {i % 4}",
            created_at=now - timedelta(days=(i * 37) % 300),
            last_accessed=now - timedelta(days=(i * 11) % 90),
        )
        for i in range(120)
    ]
    await service.create(records, deduplicate=False)
    request = SearchRequest(
        text="budget report item 2", search_mode=mode, limit=7, offset=3, entity_boost=0
    )
    searcher = service.searcher
    at = datetime.now(UTC).timestamp()
    vector = await searcher.embed(request.text)
    query = MATCH_ALL
    if mode == "semantic":
        found = await searcher._semantic(request, query, vector)
    elif mode == "keyword":
        found = await searcher._keyword(request, query)
    else:
        found = await searcher._hybrid(request, query, vector)
    facts = await store.documents.facts(list(found.relevance), dates=True, entities=False)
    assert len(facts) == len(found.relevance) >= 100 or mode == "keyword"
    full = sorted(
        (
            request.recency_semantic_weight * rel
            + request.recency_recency_weight
            * recency_component(request, facts[i].created_at, facts[i].last_accessed, at),
            i,
        )
        for i, rel in found.relevance.items()
    )
    full.sort(key=lambda pair: (-pair[0], pair[1]))
    expected = [i for _, i in full[3:10]]
    page = await searcher._rank(request, found, at)
    assert [h.id for h in page] == expected


def test_an_entity_is_named_by_whole_words_in_a_row() -> None:
    query = words_of("What did Ann do in New York, and with Bob's dog?")
    assert names(query, "new york") and names(query, "Ann") and names(query, "BOB")
    assert not names(query, "York New") and not names(query, "Anna") and not names(query, " ")


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_entity_boost_prefers_memories_about_who_is_named(
    service: LongTermMemoryService, mode: str
) -> None:
    await service.create(
        [
            MemoryRecord(id=f"{who}{i}", text="went painting by the lake", entities=[who])
            for who in ("Caroline", "Melanie", "New York")
            for i in range(3)
        ],
        deduplicate=False,
    )
    question = "when did melanie go painting by the lake?"
    boosted = await service.search(req(text=question, search_mode=mode, limit=3, entity_boost=0.3))
    assert {m.id for m in boosted.memories} == {"Melanie0", "Melanie1", "Melanie2"}
    plain = await service.search(req(text=question, search_mode=mode, limit=3))
    assert {m.id for m in plain.memories} != {"Melanie0", "Melanie1", "Melanie2"}
    city = await service.search(
        req(text="painting in new york", search_mode=mode, limit=3, entity_boost=0.3)
    )
    assert {m.id for m in city.memories} == {"New York0", "New York1", "New York2"}


async def test_fields_of_documents_missing_some_are_read_exactly(store: LongTermStore) -> None:
    full = {"id": "full", "text": "a", "created_at": 1.0, "entities": ["Ann"], "topics": None}
    partial = {"id": "partial", "text": "b", "entities": ["Bob"]}  # no created_at, no topics
    await store.documents.upsert_many([full, partial])
    docs = await store.documents.get_fields(
        ["full", "partial", "gone"], ["created_at", "entities", "topics"]
    )
    assert docs[0] == {"created_at": 1.0, "entities": ["Ann"]}  # None is stored as no field
    assert docs[1] == {"entities": ["Bob"]}
    assert docs[2] is None
    facts = await store.documents.facts(["partial", "gone"], dates=True, entities=True)
    assert list(facts) == ["partial"] and facts["partial"].entities == ["Bob"]


def test_keyword_terms_keep_every_word_stemmed() -> None:
    assert index_terms("Caroline: hi!\nCaroline: HI again, Caroline's days") == (
        "carolin hi carolin hi again carolin s day"
    )


async def test_a_repeated_word_saturates(service: LongTermMemoryService) -> None:
    """BM25STD counts a word's repeats with saturation: twelve mentions of one query word are
    worth less than (k1 + 1) = 2.2 mentions, so a memory holding two query words of like
    rarity outranks one that repeats a single word, which still outranks one that says it
    once."""
    await service.create(
        [
            NewMemoryRecord(id="repeats", text="x", search_text="Caroline " * 12 + "said hello"),
            NewMemoryRecord(id="answer", text="y", search_text="Caroline went to the lake"),
            NewMemoryRecord(id="once", text="z", search_text="Caroline said hello"),
            NewMemoryRecord(id="shore", text="w", search_text="a walk by the lake"),
            *(MemoryRecord(id=f"n{i}", text=f"note {i} about the weather") for i in range(6)),
        ],
        deduplicate=False,
    )
    found = await service.search(req(text="caroline lake", search_mode="keyword", limit=4))
    ids = [m.id for m in found.memories]
    assert ids[:2] == ["answer", "repeats"] and ids.index("repeats") < ids.index("once")


async def test_documents_edited_by_hand_still_rank(
    service: LongTermMemoryService, store: LongTermStore
) -> None:
    """Facts are read leniently: a memory whose last_accessed was removed by hand falls back to
    its created_at, and entities set by hand boost it past the memory the text ranks first."""
    await seed(service)
    for memory_id in ("t4", "t7"):  # the two memories naming Carol
        await store.redis.hdel(store.keys.memory(memory_id), "last_accessed")
    facts = await store.documents.facts(["t4"], dates=True, entities=True)
    assert facts["t4"].last_accessed == facts["t4"].created_at
    for mode in ("semantic", "keyword", "hybrid"):
        plain = await service.search(
            SearchRequest(text="who is carol", search_mode=mode, entity_boost=0.0)
        )
        first = plain.memories[0].id
        other = "t7" if first == "t4" else "t4"
        await store.redis.hset(store.keys.memory(first), "entities", "")
        await store.redis.hset(store.keys.memory(other), "entities", "Carol")
        assert (await store.documents.facts([other], dates=True, entities=True))[
            other
        ].entities == ["Carol"]
        boosted = await service.search(
            SearchRequest(text="who is carol", search_mode=mode, entity_boost=1.0)
        )
        assert boosted.memories[0].id == other, mode  # the boost, not the text, put it first


async def test_distances_computed_from_stored_vectors_are_the_indexs(
    service: LongTermMemoryService, store: LongTermStore, embedder: WordEmbedder
) -> None:
    """A hit that keyword search alone found gets its ``dist`` from its stored vector
    (``MemoryDocuments.distances``): the same the index's KNN gives, for every memory."""
    texts = ["tea at dawn", "green tea in the garden", "a red bicycle", "jazz records", "x"]
    await service.create(
        [MemoryRecord(id=f"d{i}", text=t) for i, t in enumerate(texts)], deduplicate=False
    )
    [vector] = await embedder.embed_batch(["tea in the morning"])
    knn = await store.index.nearest(MATCH_ALL, vector, 10)
    ours = await store.documents.distances([*(f"d{i}" for i in range(5)), "gone"], vector)
    assert set(ours) == {c.id for c in knn} == {f"d{i}" for i in range(5)}
    for c in knn:
        assert ours[c.id] == pytest.approx(c.value, abs=2e-3)
