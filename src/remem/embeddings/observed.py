"""An embedder that times its batches for ``/metrics`` (``remem_embedding_*``, by model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remem.embeddings.base import Embedder, Vectors
from remem.metrics import EMBEDDING_BATCH, EMBEDDINGS, timed


class Observed:
    """``inner`` with every ``embed_batch`` timed and its size counted; everything else (the
    model's distances, ``probe_dimensions``) is ``inner``'s."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        EMBEDDING_BATCH.labels(self.inner.name).observe(len(texts))
        with timed(EMBEDDINGS, self.inner.name):
            return await self.inner.embed_batch(texts)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
