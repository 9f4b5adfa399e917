"""Every error reaches the client through the one hierarchy in ``remem.errors`` and its one
translation in ``remem.api.errors``: the hierarchy's drawing is its classes, a body over the limit
is ``PayloadTooLarge``, an embedding provider that fails or is slow is ``EmbeddingUnavailable``
(503, retry later) and one that answers vectors of the wrong shape is a server fault (500), never
a 400 blamed on the request."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

import remem.errors
from remem.api.app import create_app
from remem.config import Settings
from remem.embeddings import Vectors, l2_normalise
from remem.embeddings.openai import OpenAIEmbedder
from remem.errors import (
    BackendUnavailable,
    EmbeddingMismatch,
    EmbeddingUnavailable,
    PayloadTooLarge,
    RememError,
)
from remem.memory.unreadable import Unreadable
from tests.serving import served

LTM = "/v1/long-term-memory"
WM = "/v1/working-memory"
DIMENSIONS = 8
JSON = {"content-type": "application/json"}


# -- the drawing ------------------------------------------------------------------------------
def test_the_hierarchy_drawn_in_the_docstring_is_the_classes() -> None:
    """Each row names a class, its ``code`` and its status; every class has its row."""
    doc = remem.errors.__doc__ or ""
    rows = re.findall(r"^\s*[├└│ ─]*(\w+)\s+(\w+)\s+(\d{3})\b", doc, re.MULTILINE)
    assert rows, doc
    classes: dict[str, type[RememError]] = {
        name: cls
        for name, cls in vars(remem.errors).items()
        if inspect.isclass(cls) and issubclass(cls, RememError)
    }
    classes["Unreadable"] = Unreadable  # lives beside the record readers, drawn here too
    drawn = {}
    for name, code, status in rows:
        if name == "RememError":
            continue
        assert name in classes, f"{name} is drawn but is no class"
        assert (classes[name].code, classes[name].status) == (code, int(status)), name
        drawn[name] = classes[name]
    assert set(drawn) == set(classes) - {"RememError"}
    assert EmbeddingUnavailable.retry_after_seconds == BackendUnavailable.retry_after_seconds
    assert f"Retry-After: {BackendUnavailable.retry_after_seconds}" in doc
    assert "internal_error" in doc  # the catch-all's answer, not a class


# -- bodies over the limit --------------------------------------------------------------------
async def _chunks(size: int) -> AsyncIterator[bytes]:
    """A body sent without a Content-Length, so only counting it can find it too large."""
    yield b'{"messages": [{"role": "user", "content": "'
    for _ in range(size // 1000 + 1):
        yield b"x" * 1000
    yield b'"}]}'


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"{WM}/s"),
        ("POST", f"{LTM}/search"),
        ("PATCH", f"{LTM}/m"),
        ("POST", f"{LTM}/"),
        ("POST", f"{LTM}/forget"),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_body_over_the_limit_is_payload_too_large(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str, streamed: bool
) -> None:
    limit = settings.max_body_bytes
    content: Any = _chunks(limit) if streamed else b"x" * (limit + 1)
    r = await client.request(
        method, path, content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == PayloadTooLarge.status, r.text
    assert r.json() == {"detail": f"Request body larger than {limit} bytes", "code": "too_large"}


# -- the embedding provider -------------------------------------------------------------------
@dataclass
class Provider:
    """An OpenAI-compatible POST /v1/embeddings whose behaviour the test switches."""

    mode: str = "ok"  # ok | slow | overloaded | wrong_dimensions | wrong_count

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            texts = (await request.json())["input"]
            if self.mode == "slow":
                await asyncio.sleep(2)
            if self.mode == "overloaded":
                error = {"error": {"message": "The model is overloaded", "type": "x"}}
                return JSONResponse(error, status_code=503, headers={"Retry-After": "0"})
            size = DIMENSIONS + (self.mode == "wrong_dimensions")
            count = len(texts) + (self.mode == "wrong_count")
            data = [{"index": i, "embedding": [1.0] * size} for i in range(count)]
            return JSONResponse({"data": data})

        return app


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    fake = Provider()
    async with served(fake.app()) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
async def api(
    settings: Settings, provider: tuple[Provider, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, Provider]]:
    """The real app on the OpenAI provider above; the provider answers well until told not to."""
    fake, url = provider
    fake.mode = "ok"
    app = create_app(
        settings.model_copy(
            update={
                "embedding_provider": "openai",
                "embedding_base_url": url,
                "embedding_model": "m",
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            r = await http.post(f"{LTM}/", json={"memories": [{"id": "m", "text": "sky"}]})
            assert r.status_code == 200, r.text
            yield http, fake


def _assert_error(r: httpx.Response, error: type[RememError], *words: str) -> None:
    assert r.status_code == error.status, r.text
    assert r.json()["code"] == error.code, r.text
    for word in words:
        assert word in r.json()["detail"], r.text
    if issubclass(error, BackendUnavailable):
        assert r.headers["retry-after"] == str(error.retry_after_seconds)
    else:
        assert "retry-after" not in r.headers


async def test_an_overloaded_provider_is_503_embedding_unavailable(
    api: tuple[httpx.AsyncClient, Provider],
) -> None:
    http, fake = api
    fake.mode = "overloaded"
    r = await http.post(f"{LTM}/search", json={"text": "sky"})
    _assert_error(r, EmbeddingUnavailable, "overloaded")
    r = await http.patch(f"{LTM}/m", json={"text": "sea"})
    _assert_error(r, EmbeddingUnavailable, "overloaded")
    fake.mode = "ok"
    assert (await http.get(f"{LTM}/m")).json()["text"] == "sky"  # nothing lost


@pytest.mark.parametrize("mode", ["wrong_dimensions", "wrong_count"])
async def test_a_provider_answering_the_wrong_shape_is_a_500_not_the_callers_fault(
    api: tuple[httpx.AsyncClient, Provider], mode: str
) -> None:
    http, fake = api
    fake.mode = mode
    r = await http.post(f"{LTM}/search", json={"text": "sky"})
    _assert_error(r, EmbeddingMismatch)
    r = await http.post(f"{LTM}/", json={"memories": [{"id": "n", "text": "sea"}]})
    _assert_error(r, EmbeddingMismatch)
    fake.mode = "ok"
    assert (await http.get(f"{LTM}/n")).status_code == 404


async def test_a_provider_that_times_out_is_503_embedding_unavailable(
    settings: Settings, provider: tuple[Provider, str]
) -> None:
    """Settings has no timeout (30 s by default): the service gets an embedder with 0.2 s."""
    fake, url = provider
    fake.mode = "ok"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service = app.state.resources.long_term
        impatient = OpenAIEmbedder(
            model="m", base_url=url, dimensions=service.embedder.dimensions, timeout_seconds=0.2
        )
        service.embedder = impatient
        fake.mode = "slow"
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                r = await http.post(f"{LTM}/search", json={"text": "sky"})
        finally:
            fake.mode = "ok"
            await impatient.aclose()
    _assert_error(r, EmbeddingUnavailable, "timed out")


@dataclass
class Skewed:
    """An embedder that returns one vector too few: whatever its kind, the service must call
    that a server fault."""

    dimensions: int
    name: str = "skewed"

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        return l2_normalise(np.ones((max(len(texts) - 1, 0), self.dimensions)))

    async def warm_up(self) -> None: ...

    async def aclose(self) -> None: ...


async def test_an_embedder_returning_the_wrong_shape_is_a_500(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service = app.state.resources.long_term
        service.embedder = Skewed(service.embedder.dimensions)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            r = await http.post(f"{LTM}/", json={"memories": [{"text": "sky"}]})
            _assert_error(r, EmbeddingMismatch, "shape")
            r = await http.post(f"{LTM}/search", json={"text": "sky"})
            _assert_error(r, EmbeddingMismatch, "shape")


# -- bodies that are not UTF-8 ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", f"{WM}/s"),
        ("POST", f"{WM}/s/messages"),
        ("POST", f"{LTM}/search"),
        ("PATCH", f"{LTM}/m"),
        ("POST", f"{LTM}/"),
        ("POST", f"{LTM}/forget"),
    ],
)
async def test_a_body_that_is_not_utf8_is_a_422_saying_where(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """FastAPI's own answer was a 400 "There was an error parsing the body", with no code and
    no position; it is the 422 a body that is not JSON gets."""
    r = await client.request(method, path, content=b'{"text": "ab\xff\xfe"}', headers=JSON)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"] == ["body", 12], error
    assert "UTF-8" in error["ctx"]["error"], error
