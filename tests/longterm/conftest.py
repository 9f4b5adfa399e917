"""Fixtures for long-term memory: a store and a service over the session's embedded Redis, each
test under its own key prefix and index, with a small deterministic embedder."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.memory.longterm import LongTermMemoryService
from remem.store.connection import connect
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_long_term_index

DIMS = 64


class WordEmbedder:
    """Bag of words hashed into 64 signed buckets, L2-normalised: texts with the same words
    (any order, case or punctuation) get the same vector; shared words mean similarity."""

    name = "test-words"
    dimensions = DIMS

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower()) or ["<empty>"]
            for word in words:
                digest = hashlib.sha256(word.encode()).digest()
                out[row, digest[0] % DIMS] += 1.0 if digest[1] % 2 else -1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else np.eye(DIMS, dtype=np.float32)[0]
        return out


def index_name(settings: Settings) -> str:
    return f"{settings.key_prefix}long_term_memory_idx"


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis_url
    client = connect(settings.redis_url, timeout=10, max_connections=64)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis: Redis, settings: Settings) -> AsyncIterator[LongTermStore]:
    keys = Keys(settings.key_prefix)
    live = await ensure_long_term_index(redis, keys, index_name(settings), DIMS)
    opened = LongTermStore(redis, keys, index_name(settings))
    yield opened
    await opened.aclose()
    await redis.execute_command("FT.DROPINDEX", live, "DD")  # type: ignore[no-untyped-call]


@pytest.fixture
def embedder() -> WordEmbedder:
    return WordEmbedder()


@pytest.fixture
async def service(
    store: LongTermStore, embedder: WordEmbedder
) -> AsyncIterator[LongTermMemoryService]:
    # Every hit moves last_accessed (no resolution), flushed at once: tests see hits land.
    svc = LongTermMemoryService(
        store, embedder, access_flush_seconds=0.1, access_resolution_seconds=0.0
    )
    await svc.start()
    yield svc
    await svc.close()
