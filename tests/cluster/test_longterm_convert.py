"""Rewriting every long-term memory on a cluster (``store.longterm.convert``): memories of the
JSON layout in many namespaces, over every primary, become the hashes a single Redis converting
the same documents makes (each namespace's token replaced), and a re-embedding reaches every
memory on every primary."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
from redis.asyncio import Redis

from remem.store.connection import connect, flat_twin, open_redis
from remem.store.keys import Keys
from remem.store.longterm.convert import convert_long_term, reembed_all
from remem.store.longterm.layout import vector_bytes

NAMESPACES = [f"ns {i}/{{x}}" for i in range(9)]
Pair = tuple[tuple[Redis, Keys], tuple[Redis, Keys]]


def _json(memory_id: str, namespace: str | None) -> str:
    return json.dumps(
        {
            "id": memory_id,
            "text": f"text of {memory_id}",
            "namespace": namespace,
            "user_id": None,
            "created_at": 1000.5,
            "access_count": 2,
            "topics": ["tea"],
            "metadata": {"n": [1, 2]},
            "embedding": [0.5, -0.25, 1.0, 0.0],
        }
    )


def _held() -> list[tuple[str, str | None]]:
    return [(f"m{i} {{a}}", NAMESPACES[i % 9] if i < 25 else None) for i in range(27)]


@pytest.fixture
async def pair(cluster_url: str, redis_url: str) -> AsyncIterator[Pair]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    single = connect(redis_url, timeout=5, max_connections=4)
    cluster = await open_redis(cluster_url, timeout=5, max_connections=8)
    both = ((single, Keys(prefix)), (cluster, Keys(prefix, cluster=True)))
    for redis, keys in both:
        for memory_id, namespace in _held():
            key = keys.memory(memory_id, namespace)
            await redis.execute_command("JSON.SET", key, "$", _json(memory_id, namespace))
    yield both
    for redis, keys in both:
        for memory_id, namespace in _held():
            await redis.delete(keys.memory(memory_id, namespace))
        await redis.aclose()


async def _hashes(redis: Redis, keys: Keys) -> list[dict[bytes, bytes]]:
    """Every memory's hash, in bytes (its vector is binary)."""
    raw = flat_twin(redis, decode_responses=False)
    try:
        return [await raw.hgetall(keys.memory(i, ns)) for i, ns in _held()]  # type: ignore[misc]
    finally:
        await raw.aclose()


async def test_a_conversion_and_a_reembedding_answer_as_a_single_redis(pair: Pair) -> None:
    (single, one), (cluster, many) = pair
    tokens = {many.long_term_generation_of(many.memory("x", ns)) for ns in NAMESPACES}
    assert await convert_long_term(single, one, batch=5, progress=lambda _: None) == (27, {})
    assert await convert_long_term(cluster, many, batch=5, progress=lambda _: None) == (27, {})
    converted = await _hashes(cluster, many)
    assert converted == await _hashes(single, one)
    names = {row[b"namespace"].decode() for row in converted if b"namespace" in row}
    assert names == set(NAMESPACES)
    assert [await cluster.exists(t) for t in tokens] == [1] * len(tokens)  # each namespace's
    assert await cluster.exists(many.long_term_generation) == 0

    async def embed(texts: Sequence[str]) -> np.ndarray:
        return np.array([[len(t), 1.0, 0.0, 2.0] for t in texts], dtype=np.float32)

    def terms(text: str, search_text: str | None) -> str:
        return f"{text.lower()} {search_text}"

    assert await reembed_all(single, one, embed, terms, batch=4) == 27
    assert await reembed_all(cluster, many, embed, terms, batch=4) == 27
    rows = await _hashes(cluster, many)
    assert rows == await _hashes(single, one)
    assert all(row[b"search_terms"].startswith(b"text of m") for row in rows)
    vectors = {row[b"embedding"] for row in rows}
    assert len(vectors) >= 2 and vector_bytes(np.zeros(4)) not in vectors
