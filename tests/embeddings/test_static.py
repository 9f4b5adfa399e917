"""The default embedder: the MiniLM-distilled static table shipped with remem, no network."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from remem.config import Settings
from remem.embeddings import EmbeddingUnavailable, Vectors, dedup_distance_of
from remem.embeddings.static import DIMENSIONS, INLINE_TEXTS, MAX_TOKENS, StaticEmbedder
from remem.runtime import build_embedder_from


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the static embedder tried to open a network connection")


@pytest.fixture(scope="module")
async def embedder() -> AsyncIterator[StaticEmbedder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _no_network)
        static = StaticEmbedder()
        await static.warm_up()
        yield static
    await static.aclose()


def assert_unit_rows(vectors: Vectors) -> None:
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_is_the_default_local_model() -> None:
    embedder = await build_embedder_from(Settings(redis_url="redis://unused"))
    assert isinstance(embedder, StaticEmbedder)
    assert embedder.dimensions == DIMENSIONS == 256
    assert dedup_distance_of(embedder) == 0.03


async def test_vectors_are_unit_rows_in_order(embedder: StaticEmbedder) -> None:
    texts = ["hello world", "remem remembers", "Ünïcödé café", "!!!", "a"]
    vectors = await embedder.embed_batch(texts)
    assert vectors.shape == (5, DIMENSIONS)
    assert_unit_rows(vectors)
    for i, text in enumerate(texts):  # each row is its own text's vector, whatever the batch
        np.testing.assert_allclose((await embedder.embed_batch([text]))[0], vectors[i], atol=1e-6)


async def test_large_batches_run_off_the_loop_and_agree(embedder: StaticEmbedder) -> None:
    texts = [f"note {i}: the fence needs paint, item {i % 7}" for i in range(3 * INLINE_TEXTS)]
    together = await embedder.embed_batch(texts)
    alone = np.vstack([await embedder.embed_batch([t]) for t in texts[:5]])
    np.testing.assert_allclose(together[:5], alone, atol=1e-6)
    assert_unit_rows(together)
    assert (await embedder.embed_batch([])).shape == (0, DIMENSIONS)


async def test_similar_sentences_are_closer_than_unrelated_ones(embedder: StaticEmbedder) -> None:
    cat, rug, revenue = await embedder.embed_batch(
        ["The cat sat on the mat", "A cat was sitting on a rug", "Quarterly revenue grew 5%"]
    )
    assert float(cat @ rug) > float(cat @ revenue) + 0.2
    same, reworded, other_city = await embedder.embed_batch(
        ["User prefers dark mode", "The user prefers dark mode.", "User prefers light mode"]
    )
    assert 1 - float(same @ reworded) < dedup_distance_of(embedder)
    assert 1 - float(same @ other_city) > 0.0


async def test_text_of_unknown_symbols_still_gets_a_unit_vector(
    embedder: StaticEmbedder,
) -> None:
    vectors = await embedder.embed_batch(["🙂🙂🙂", "x" * 500])
    assert_unit_rows(vectors)


async def test_tokens_past_the_limit_are_ignored(embedder: StaticEmbedder) -> None:
    head = " ".join(["garden"] * MAX_TOKENS)
    short, long = await embedder.embed_batch([head, head + " revenue quarterly" * 50])
    np.testing.assert_allclose(short, long, atol=1e-6)


async def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    broken = StaticEmbedder(model_dir=tmp_path)
    with pytest.raises(EmbeddingUnavailable, match="could not load the static embedding model"):
        await broken.warm_up()
