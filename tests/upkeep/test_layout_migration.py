"""Long-term memories stored in the JSON layout of earlier versions: `remem serve` refuses them
naming `remem migrate`, which converts them to hashes in place, keeping every field."""

from __future__ import annotations

import json

import pytest

from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.models.search import SearchRequest
from remem.runtime import Resources
from remem.store.schema import long_term_memory_index
from remem.upkeep.migrate import run_migration


def old_document(memory_id: str, text: str, vector: list[float], **fields: object) -> str:
    """A memory as remem wrote it before the HASH layout: JSON, the vector as numbers."""
    doc = {
        "id": memory_id,
        "text": text,
        "session_id": None,
        "user_id": None,
        "namespace": "n",
        "last_accessed": 1_700_000_100.25,
        "created_at": 1_700_000_000.5,
        "updated_at": 1_700_000_000.5,
        "pinned": False,
        "access_count": 3,
        "topics": ["tea"],
        "entities": [],
        "memory_hash": "h",
        "discrete_memory_extracted": "f",
        "memory_type": "semantic",
        "persisted_at": None,
        "extracted_from": None,
        "event_date": None,
        "extraction_strategy": "discrete",
        "extraction_strategy_config": {},
        "metadata": {"source": "chat", "n": [1, 2]},
        "search_text": text,
        "search_terms": text.lower(),
        "embedding": vector,
        **fields,
    }
    return json.dumps(doc)


async def test_an_old_layout_store_is_refused_then_migrated_in_place(
    settings: Settings,
) -> None:
    async with Resources(settings) as res:
        vector = (await res.embedder.embed_batch(["Alice drinks green tea"]))[0]
        keys, name = res.keys, settings.long_term_memory_index
        dims = res.embedder.dimensions
        for index in await res.redis.execute_command("FT._LIST"):
            if index.startswith(keys.index_name(name, "")):
                await res.redis.execute_command("FT.DROPINDEX", index)
        old = [round(float(x), 8) for x in vector]
        await res.redis.execute_command(
            "JSON.SET", keys.memory("tea"), "$", old_document("tea", "Alice drinks green tea", old)
        )
        await res.redis.execute_command(
            "JSON.SET",
            keys.memory("walk"),
            "$",
            old_document(
                "walk",
                "Bob walks",
                old,
                search_text="Bob walks by the lake",
                search_terms="bob walk by the lake",
            ),
        )
        # The old index, on JSON, as the alias's target.
        spec = long_term_memory_index(keys, name, dims)
        live = keys.index_name(name, "jsonlayout")
        await res.redis.execute_command(
            "FT.CREATE", live, "ON", "JSON", "PREFIX", 1, spec.prefix, "SCHEMA",
            "$.namespace", "AS", "namespace", "TAG",
            "$.embedding", "AS", "embedding", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32",
            "DIM", dims, "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
        await res.redis.execute_command("FT.ALIASUPDATE", name, live)

    with pytest.raises(IncompatibleBackend, match="remem migrate"):
        async with Resources(settings):
            pass

    printed: list[str] = []
    dry = await run_migration(settings, dry_run=True, echo=printed.append, progress=print)
    assert dry.memories_converted == 2
    report = await run_migration(settings, echo=printed.append, progress=print)
    assert report.memories_converted == 2
    assert "long-term memories converted from the JSON to the HASH layout: 2" in printed[-1]

    async with Resources(settings) as res:
        assert await res.redis.type(keys.memory("tea")) == "hash"
        record = await res.long_term.get("tea")
        assert record.created_at.timestamp() == 1_700_000_000.5
        assert record.last_accessed.timestamp() == 1_700_000_100.25
        assert (record.access_count, record.topics, record.entities) == (3, ["tea"], [])
        assert record.metadata == {"source": "chat", "n": [1, 2]}
        assert record.namespace == "n" and record.event_date is None
        found = await res.long_term.search(
            SearchRequest.model_validate(
                {"text": "Alice drinks green tea", "namespace": {"eq": "n"}, "limit": 1}
            )
        )
        assert [m.id for m in found.memories] == ["tea"]
        assert found.memories[0].dist is not None and found.memories[0].dist < 1e-3
        lake = await res.long_term.search(SearchRequest(text="lake", search_mode="keyword"))
        assert [m.id for m in lake.memories] == ["walk"]  # its search_terms kept
    again = await run_migration(settings, echo=printed.append, progress=print)
    assert again.memories_converted == 0
