"""The OpenAI-compatible embedder against a real local HTTP server speaking the OpenAI API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from remem.embeddings import EmbeddingMismatch, EmbeddingUnavailable, Vectors
from remem.embeddings.openai import OpenAIEmbedder
from tests.serving import free_port, served


def fake_vector(text: str, dimensions: int) -> list[float]:
    """Deterministic, deliberately not unit length (the client must normalise)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return [float(x) * 3.0 for x in np.random.default_rng(seed).standard_normal(dimensions)]


@dataclass
class FakeOpenAI:
    """POST /v1/embeddings as OpenAI answers it; records requests, fails on demand."""

    native_dimensions: int = 12
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    rate_limit_once: bool = False
    fail_always: int | None = None  # status to answer every request with
    delay_seconds: float = 0.0
    wrong_dimensions: bool = False

    def reset(self) -> None:
        self.__dict__.update(FakeOpenAI().__dict__)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            self.authorizations.append(request.headers.get("authorization"))
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            if self.rate_limit_once:
                self.rate_limit_once = False
                return JSONResponse(
                    {"error": {"message": "Rate limit reached", "type": "requests"}},
                    status_code=429,
                    headers={"Retry-After": "0"},
                )
            if self.fail_always is not None:
                message = {500: "The model is overloaded", 400: "input is too long"}
                return JSONResponse(
                    {"error": {"message": message.get(self.fail_always, "no"), "type": "x"}},
                    status_code=self.fail_always,
                )
            size = body.get("dimensions", self.native_dimensions) + self.wrong_dimensions
            data = [
                {"object": "embedding", "index": i, "embedding": fake_vector(text, size)}
                for i, text in enumerate(body["input"])
            ]
            data.reverse()  # the client must order by "index", not by position
            return JSONResponse(
                {"object": "list", "data": data, "model": body["model"], "usage": {}}
            )

        return app


@pytest.fixture(scope="module")
async def server_and_url() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    async with served(fake.app()) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
def fake(server_and_url: tuple[FakeOpenAI, str]) -> FakeOpenAI:
    server = server_and_url[0]
    server.reset()
    return server


@pytest.fixture
def base_url(server_and_url: tuple[FakeOpenAI, str]) -> str:
    return server_and_url[1]


@pytest.fixture
async def embedder(base_url: str) -> AsyncIterator[OpenAIEmbedder]:
    client = OpenAIEmbedder(
        model="text-embedding-3-small",
        base_url=base_url,
        api_key="sk-test",
        dimensions=8,
        batch_size=4,
        backoff_seconds=0.01,
    )
    yield client
    await client.aclose()


def expected(texts: list[str], dimensions: int) -> Vectors:
    raw = np.array([fake_vector(t, dimensions) for t in texts], dtype=np.float32)
    unit: Vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    return unit


async def test_request_shape_and_normalised_vectors(
    fake: FakeOpenAI, embedder: OpenAIEmbedder
) -> None:
    vectors = await embedder.embed_batch(["first text", "second text"])
    assert fake.requests == [
        {"model": "text-embedding-3-small", "input": ["first text", "second text"], "dimensions": 8}
    ]
    assert fake.authorizations == ["Bearer sk-test"]
    assert vectors.shape == (2, 8)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected(["first text", "second text"], 8), atol=1e-6)


async def test_inputs_are_sent_in_batches(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    texts = [f"text {i}" for i in range(10)]
    vectors = await embedder.embed_batch(texts)
    assert [len(r["input"]) for r in fake.requests] == [4, 4, 2]
    assert [t for r in fake.requests for t in r["input"]] == texts
    np.testing.assert_allclose(vectors, expected(texts, 8), atol=1e-6)


async def test_dimensions_are_learned_by_probing(fake: FakeOpenAI, base_url: str) -> None:
    embedder = OpenAIEmbedder(model="nomic-embed-text", base_url=base_url)
    try:
        with pytest.raises(RuntimeError, match="probe_dimensions"):
            _ = embedder.dimensions
        assert await embedder.probe_dimensions() == 12
        assert embedder.dimensions == 12
        assert embedder.name == "nomic-embed-text"
        assert fake.requests == [{"model": "nomic-embed-text", "input": ["dimension probe"]}]
        assert fake.authorizations == [None]
    finally:
        await embedder.aclose()


async def test_a_rate_limit_is_retried(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    fake.rate_limit_once = True
    vectors = await embedder.embed_batch(["hello"])
    assert len(fake.requests) == 2
    np.testing.assert_allclose(vectors, expected(["hello"], 8), atol=1e-6)


async def test_a_failing_provider_is_unavailable_with_its_message(
    fake: FakeOpenAI, embedder: OpenAIEmbedder
) -> None:
    fake.fail_always = 500
    with pytest.raises(EmbeddingUnavailable, match="500: The model is overloaded") as caught:
        await embedder.embed_batch(["hello"])
    assert (caught.value.code, caught.value.status) == ("embedding_unavailable", 503)
    assert len(fake.requests) == 4  # the first try and three retries


async def test_a_client_error_is_not_retried(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    fake.fail_always = 400
    with pytest.raises(EmbeddingUnavailable, match="400: input is too long"):
        await embedder.embed_batch(["hello"])
    assert len(fake.requests) == 1


async def test_a_dimension_mismatch_is_an_error(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    fake.wrong_dimensions = True
    with pytest.raises(EmbeddingMismatch, match="returned 9 dimensions, expected 8"):
        await embedder.embed_batch(["hello"])


async def test_a_slow_provider_times_out(fake: FakeOpenAI, base_url: str) -> None:
    fake.delay_seconds = 0.5
    embedder = OpenAIEmbedder(model="m", base_url=base_url, timeout_seconds=0.1)
    try:
        with pytest.raises(EmbeddingUnavailable, match="timed out"):
            await embedder.embed_batch(["hello"])
    finally:
        await embedder.aclose()


async def test_connection_refused_is_unavailable() -> None:
    embedder = OpenAIEmbedder(
        model="m", base_url=f"http://127.0.0.1:{free_port()}/v1", backoff_seconds=0.01
    )
    try:
        with pytest.raises(EmbeddingUnavailable, match="unreachable") as caught:
            await embedder.embed_batch(["hello"])
        assert caught.value.status == 503
    finally:
        await embedder.aclose()


async def test_no_texts_make_no_request(fake: FakeOpenAI, embedder: OpenAIEmbedder) -> None:
    vectors = await embedder.embed_batch([])
    assert vectors.shape == (0, 8)
    assert fake.requests == []
