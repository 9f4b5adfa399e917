"""Edit (PATCH), delete, forget, access tracking and the vector-dimension check."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from remem.config import Settings
from remem.errors import IncompatibleBackend, NotFound
from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import now
from remem.models.memory import MemoryRecord
from remem.models.search import EditMemoryRecordRequest, ForgetPolicy, SearchRequest
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_long_term_index
from tests.helpers import wait_until
from tests.longterm.conftest import WordEmbedder, index_name

NOW = datetime.now(UTC)


def patch(body: dict[str, object]) -> EditMemoryRecordRequest:
    return EditMemoryRecordRequest.model_validate(body)


async def test_patch_changes_only_the_fields_sent(
    service: LongTermMemoryService, embedder: WordEmbedder
) -> None:
    await service.create(
        [MemoryRecord(id="m", text="likes tea", topics=["a"], namespace="n", user_id="u")]
    )
    before = await service.get("m")
    calls = len(embedder.calls)
    after = await service.update("m", patch({"topics": ["b"], "user_id": None}))
    assert len(embedder.calls) == calls  # text unchanged: no embedding
    assert after.topics == ["b"] and after.user_id is None and after.namespace == "n"
    assert after.text == before.text and after.created_at == before.created_at
    assert after.memory_hash != before.memory_hash  # the scope is part of the hash
    assert after.updated_at > before.updated_at


async def test_patch_text_re_embeds_and_is_searchable(
    service: LongTermMemoryService, embedder: WordEmbedder
) -> None:
    await service.create([MemoryRecord(id="m", text="likes tea")])
    calls = len(embedder.calls)
    await service.update("m", patch({"text": "plays chess"}))
    assert len(embedder.calls) == calls + 1
    found = await service.search(SearchRequest(text="chess", search_mode="keyword"))
    assert [m.id for m in found.memories] == ["m"]
    gone = await service.search(SearchRequest(text="tea", search_mode="keyword"))
    assert gone.total == 0


def test_patch_refuses_null_for_required_fields() -> None:
    for name in ("text", "memory_type", "pinned"):
        with pytest.raises(ValidationError):
            patch({name: None})


async def test_patch_of_a_missing_memory_is_not_found(service: LongTermMemoryService) -> None:
    with pytest.raises(NotFound):
        await service.update("nope", patch({"topics": []}))


async def test_delete_counts_what_existed(service: LongTermMemoryService) -> None:
    await service.create([MemoryRecord(id="a", text="x"), MemoryRecord(id="b", text="y")])
    assert await service.delete(["a", "b", "c", "a"]) == 2
    with pytest.raises(NotFound):
        await service.get("a")


def aged(i: int, days: float, **kw: Any) -> MemoryRecord:
    at = NOW - timedelta(days=days)
    return MemoryRecord(id=f"f{i}", text=f"memory {i}", created_at=at, last_accessed=at, **kw)


async def test_forget_takes_the_oldest_first_and_keeps_pinned(
    service: LongTermMemoryService,
) -> None:
    records = [aged(i, 100 - i) for i in range(10)]
    records.append(aged(99, 500, pinned=True))
    await service.create(records, deduplicate=False)
    policy = ForgetPolicy(max_age_days=95)
    out = await service.forget(policy, limit=3, dry_run=False)
    assert out.scanned == 3  # f99 (oldest, pinned), f0, f1
    assert out.deleted_ids == ["f0", "f1"] and out.deleted == 2
    await service.get("f99")


async def test_forget_dry_run_deletes_nothing(service: LongTermMemoryService) -> None:
    await service.create([aged(i, 50) for i in range(3)], deduplicate=False)
    out = await service.forget(ForgetPolicy(max_age_days=10), dry_run=True)
    assert out.deleted == 3 and out.dry_run
    assert (await service.get("f0")).id == "f0"


async def test_forget_allowlist_budget_and_pinned_ids(service: LongTermMemoryService) -> None:
    await service.create(
        [
            aged(0, 40, memory_type="episodic"),
            aged(1, 30),
            aged(2, 20),
            aged(3, 10),
            aged(4, 5),
        ],
        deduplicate=False,
    )
    allow = ForgetPolicy(max_age_days=1, memory_type_allowlist=["episodic"])
    assert (await service.forget(allow)).deleted_ids == ["f0"]
    budget = ForgetPolicy(budget=2)
    assert (await service.forget(budget, pinned_ids=["f1"])).deleted_ids == ["f0", "f2"]


async def test_forget_age_and_inactivity_together(service: LongTermMemoryService) -> None:
    old_but_used = MemoryRecord(
        id="used", text="a", created_at=NOW - timedelta(days=40), last_accessed=NOW
    )
    ancient = MemoryRecord(
        id="ancient", text="b", created_at=NOW - timedelta(days=400), last_accessed=NOW
    )
    await service.create([old_but_used, ancient, aged(1, 40)], deduplicate=False)
    policy = ForgetPolicy(max_age_days=30, max_inactive_days=30, hard_age_multiplier=12)
    assert (await service.forget(policy)).deleted_ids == ["ancient", "f1"]


async def test_search_hits_are_counted_in_batches(
    service: LongTermMemoryService, store: LongTermStore
) -> None:
    old = NOW - timedelta(days=3)
    await service.create(
        [MemoryRecord(id="a", text="tea", last_accessed=old), MemoryRecord(id="b", text="tea x")],
        deduplicate=False,
    )
    for _ in range(3):
        await service.search(SearchRequest(text="tea", limit=1))

    async def counted() -> bool:
        return (await service.get("a")).access_count == 3

    await wait_until(counted)
    assert (await service.get("a")).last_accessed > old
    assert (await service.get("b")).access_count == 0


async def test_a_touch_adds_counts_and_never_moves_last_accessed_back(
    store: LongTermStore,
) -> None:
    doc = {"id": "t", "text": "tea", "access_count": 2, "last_accessed": 2000.5, "created_at": 1.0}
    await store.documents.upsert_many([doc])
    fields = ("access_count", "last_accessed", "text", "created_at")
    assert (
        await store.documents.touch_many({"t": (3, 1000.25)}) == 0
    )  # an older hit: counted, date kept
    (after,) = await store.documents.get_fields(["t"], fields)
    assert after == {**dict.fromkeys(fields), **after, "access_count": 5, "last_accessed": 2000.5}
    assert await store.documents.touch_many({"t": (1, 3000.125)}) == 1
    (after,) = await store.documents.get_fields(["t"], fields)
    assert after == {"access_count": 6, "last_accessed": 3000.125, "text": "tea", "created_at": 1.0}


async def test_hits_within_the_resolution_leave_the_document_and_the_counts_alone(
    store: LongTermStore, redis: Redis, settings: Settings
) -> None:
    """A hit adds to the access hash; the document (and so the index, and the generation that
    kept counts depend on) is written only when last_accessed is a resolution behind."""
    keys = Keys(settings.key_prefix)
    await store.documents.upsert_many(
        [{"id": "r", "text": "tea", "access_count": 1, "last_accessed": 100.0}]
    )
    before = await redis.hgetall(keys.memory("r"))
    generation = await redis.get(keys.long_term_generation)
    assert await store.documents.touch_many({"r": (4, 999.0)}, resolution=900.0) == 0
    assert await redis.hgetall(keys.memory("r")) == before
    assert await redis.get(keys.long_term_generation) == generation
    (after,) = await store.documents.get_fields(["r"], ("access_count", "last_accessed"))
    assert after == {"access_count": 5, "last_accessed": 100.0}
    assert await store.documents.touch_many({"r": (1, 1000.5)}, resolution=900.0) == 1
    assert await redis.get(keys.long_term_generation) != generation
    (after,) = await store.documents.get_fields(["r"], ("access_count", "last_accessed"))
    assert after == {"access_count": 6, "last_accessed": 1000.5}
    assert await store.documents.delete_many(["r"]) == 1
    assert await redis.hget(keys.access_counts, "r") is None  # no count outlives its memory


async def test_records_read_back_add_the_hits_kept_beside_the_document(
    service: LongTermMemoryService, store: LongTermStore
) -> None:
    await service.create([MemoryRecord(id="c", text="green tea", access_count=2)])
    await store.documents.touch_many({"c": (3, now())}, resolution=3_600.0)
    assert (await service.get("c")).access_count == 5
    patched = await service.update("c", EditMemoryRecordRequest(topics=["drinks"]))
    assert patched.access_count == 5
    assert (await store.documents.get_many(["c"]))[0][
        "access_count"
    ] == 2  # the document's own share
    found = await service.search(SearchRequest(text="green tea", limit=1))
    assert [(m.id, m.access_count) for m in found.memories] == [("c", 5)]


async def test_a_flush_never_recreates_a_deleted_memory(
    service: LongTermMemoryService, store: LongTermStore
) -> None:
    await service.create([MemoryRecord(id="a", text="tea")])
    await service.search(SearchRequest(text="tea"))
    await service.delete(["a"])
    await service.access.flush()
    assert (await store.documents.get_many(["a"])) == [None]
    assert await store.documents.access_counts(["a"]) == [0]  # no count kept for it either


async def test_a_vector_dimension_change_needs_a_reindex(
    store: LongTermStore, redis: Redis, settings: Settings
) -> None:
    with pytest.raises(IncompatibleBackend, match="remem reindex"):
        await ensure_long_term_index(redis, Keys(settings.key_prefix), index_name(settings), 32)


async def test_closing_lets_a_flush_under_way_finish(
    service: LongTermMemoryService, store: LongTermStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() asks the flush task to stop instead of cancelling it inside a Redis pipeline, so
    the flush under way completes and every hit is written once."""
    await service.create(
        [MemoryRecord(id=f"h{i}", text=f"hit {i}") for i in range(40)], deduplicate=False
    )
    started, release = asyncio.Event(), asyncio.Event()
    real = store.documents.touch_many
    cancelled: list[int] = []

    async def slow_touch(hits: dict[str, tuple[int, float]], **options: float) -> int:
        started.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.append(len(hits))
            raise
        return await real(hits, **options)

    monkeypatch.setattr(store.documents, "touch_many", slow_touch)
    service.access.record([(f"h{i}", None) for i in range(40)], datetime.now(UTC).timestamp())
    await asyncio.wait_for(started.wait(), 5)  # the periodic flush has taken the hits
    closing = asyncio.create_task(service.access.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waits for the flush under way
    release.set()
    await asyncio.wait_for(closing, 10)
    assert cancelled == []
    counts = [(await service.get(f"h{i}")).access_count for i in range(40)]
    assert counts == [1] * 40


async def test_a_redis_keeping_memories_as_tables_is_named_in_a_warning(
    redis: Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Below a vector's size, hash-max-listpack-value costs about 1 KB a memory: said at start."""
    keys = Keys(settings.key_prefix)
    before = (await redis.config_get("hash-max-listpack-value"))["hash-max-listpack-value"]
    try:
        await redis.config_set("hash-max-listpack-value", 64)
        with caplog.at_level("WARNING", logger="remem.store.schema"):
            await ensure_long_term_index(redis, keys, index_name(settings), 64)
        assert "hash-max-listpack-value" in caplog.text and "128-byte vector" in caplog.text
        caplog.clear()
        await redis.config_set("hash-max-listpack-value", 4096)  # as the README advises
        with caplog.at_level("WARNING", logger="remem.store.schema"):
            await ensure_long_term_index(redis, keys, index_name(settings), 64)
        assert "hash-max-listpack-value" not in caplog.text
    finally:
        await redis.config_set("hash-max-listpack-value", before)
        for name in await redis.execute_command("FT._LIST"):  # type: ignore[no-untyped-call]
            if name.startswith(keys.index_name(index_name(settings), "")):
                await redis.execute_command("FT.DROPINDEX", name)  # type: ignore[no-untyped-call]


async def test_records_read_together_each_add_their_own_hits(
    store: LongTermStore, redis: Redis, settings: Settings
) -> None:
    """A page of records comes back in the order asked, each with its document's count plus
    its own hits; a missing memory is None (a count left in the hash for it goes to nobody),
    and fields without ``access_count`` leave the hits unread."""
    await store.documents.upsert_many(
        [{"id": "a", "text": "tea", "access_count": 1}, {"id": "b", "text": "coffee"}]
    )
    assert await store.documents.touch_many({"a": (2, 10.0), "b": (5, 10.0)}) == 2
    await redis.hincrby(Keys(settings.key_prefix).access_counts, "gone", 7)
    docs = await store.documents.get_fields(["b", "gone", "a"], ("text", "access_count"))
    assert docs == [{"text": "coffee", "access_count": 5}, None, {"text": "tea", "access_count": 3}]
    assert await store.documents.get_fields(["a", "gone"], ("text",)) == [{"text": "tea"}, None]
