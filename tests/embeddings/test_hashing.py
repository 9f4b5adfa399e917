"""The hashing test embedder, the factory and the shared helpers."""

from __future__ import annotations

import numpy as np
import pytest

from remem.embeddings import EmbeddingUnavailable, build_embedder, l2_normalise
from remem.embeddings.hashing import HashingEmbedder
from remem.errors import BackendUnavailable


async def test_hashing_is_deterministic_and_normalised() -> None:
    texts = ["The cat sat on the mat", "", "!!!", "Ünïcödé 日本語", "a"]
    first = await HashingEmbedder(dimensions=64).embed_batch(texts)
    second = await HashingEmbedder(dimensions=64).embed_batch(texts)
    assert first.shape == (5, 64)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)


async def test_hashing_puts_shared_words_closer() -> None:
    cat, cats, revenue = await HashingEmbedder(dimensions=256).embed_batch(
        ["the cat sat on the mat", "The cat sat on a mat!", "quarterly revenue grew"]
    )
    assert float(cat @ cats) > float(cat @ revenue) + 0.3


async def test_the_factory_builds_each_kind() -> None:
    hashing = build_embedder("hashing", dimensions=32)
    assert (hashing.name, hashing.dimensions) == ("hashing-32", 32)
    openai = build_embedder("openai", model="m", base_url="http://127.0.0.1:9/v1", dimensions=16)
    assert (openai.name, openai.dimensions) == ("m", 16)
    local = build_embedder("local", threads=1)
    assert (local.name, local.dimensions) == ("all-MiniLM-L6-v2-int8", 384)
    for embedder in (hashing, openai, local):
        await embedder.aclose()
    with pytest.raises(ValueError, match="unknown embedder 'bert'"):
        build_embedder("bert")


def test_embedding_unavailable_is_a_retryable_backend_error() -> None:
    error = EmbeddingUnavailable("down")
    assert isinstance(error, BackendUnavailable)
    assert (error.code, error.status, error.detail) == ("embedding_unavailable", 503, "down")


def test_l2_normalise_leaves_zero_rows_at_zero() -> None:
    unit = l2_normalise([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
    assert unit.dtype == np.float32
