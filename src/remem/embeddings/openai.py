"""Embeddings from any OpenAI-compatible ``POST /embeddings`` endpoint (OpenAI, Azure OpenAI,
Ollama, vLLM, LM Studio, text-embeddings-inference...), over one ``httpx.AsyncClient``.

Inputs go in requests of at most ``batch_size`` texts. 429 and 5xx answers and failed
connections are retried a few times with exponential backoff (honouring ``Retry-After``);
anything else, or running out of retries, raises :class:`EmbeddingUnavailable` (503, retry
later) with the server's own message; vectors of the wrong number or dimension raise
:class:`EmbeddingMismatch` (500: the model or its configuration is wrong, retrying will not
help). Vectors are L2-normalised here whatever the provider does.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from remem.embeddings.base import EmbeddingMismatch, EmbeddingUnavailable, Vectors, l2_normalise

_RETRY_AFTER_CAP = 30.0


class OpenAIEmbedder:
    """``model`` at ``base_url`` (which ends before ``/embeddings``, e.g. ``.../v1``).

    ``dimensions``, when set, is sent to the provider (models such as text-embedding-3 can
    shorten their vectors) and checked against every answer. When unset it is learned from the
    first answer; call :meth:`probe_dimensions` (or :meth:`warm_up`) at startup, before the
    vector index is built.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 128,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 30.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.name = model
        self._model = model
        self._requested_dimensions = dimensions
        self._dimensions = dimensions
        self._batch_size = batch_size
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout_seconds
        )

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            raise RuntimeError(
                f"the dimension of {self._model!r} is not known yet: "
                "configure it or await probe_dimensions() at startup"
            )
        return self._dimensions

    async def probe_dimensions(self) -> int:
        """Embed one short text and return (and remember) the vector length."""
        await self.embed_batch(["dimension probe"])
        return self.dimensions

    async def warm_up(self) -> None:
        await self.probe_dimensions()

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimensions or 0), dtype=np.float32)
        parts = [
            await self._embed_request(list(texts[start : start + self._batch_size]))
            for start in range(0, len(texts), self._batch_size)
        ]
        return l2_normalise(np.concatenate(parts))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _embed_request(self, texts: list[str]) -> Vectors:
        body: dict[str, Any] = {"model": self._model, "input": texts}
        if self._requested_dimensions is not None:
            body["dimensions"] = self._requested_dimensions
        response = await self._post(body)
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.array([_vector(item["embedding"]) for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingUnavailable(
                f"embedding provider sent an answer that is not OpenAI embeddings: {exc!r}"
            ) from exc
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbeddingMismatch(
                f"embedding provider returned {len(vectors)} vectors for {len(texts)} texts"
            )
        if self._dimensions is None:
            self._dimensions = int(vectors.shape[1])
        elif vectors.shape[1] != self._dimensions:
            raise EmbeddingMismatch(
                f"embedding model {self._model!r} returned {vectors.shape[1]} dimensions, "
                f"expected {self._dimensions}"
            )
        return vectors

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        attempt = 0
        while True:
            last_try = attempt >= self._max_retries
            delay = self._backoff * 2**attempt
            try:
                response = await self._client.post("embeddings", json=body)
            except httpx.TimeoutException as exc:  # a slow provider: retrying makes it slower
                raise EmbeddingUnavailable(
                    f"embedding provider at {self._client.base_url} timed out: {exc!r}"
                ) from exc
            except httpx.TransportError as exc:
                if last_try:
                    raise EmbeddingUnavailable(
                        f"embedding provider at {self._client.base_url} unreachable: {exc!r}"
                    ) from exc
            else:
                if response.is_success:
                    return response
                if not _retryable(response) or last_try:
                    raise EmbeddingUnavailable(
                        f"embedding provider answered {response.status_code}: "
                        f"{_server_message(response)}"
                    )
                delay = _retry_after(response, default=delay)
            await asyncio.sleep(delay)
            attempt += 1


def _retryable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _retry_after(response: httpx.Response, *, default: float) -> float:
    try:
        return min(float(response.headers["retry-after"]), _RETRY_AFTER_CAP)
    except (KeyError, ValueError):
        return default


def _vector(embedding: list[float] | str) -> Any:
    if isinstance(embedding, str):  # encoding_format="base64" answers
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4")
    return embedding


def _server_message(response: httpx.Response) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the start of the body."""
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except ValueError:
        pass
    return response.text[:500] or response.reason_phrase
