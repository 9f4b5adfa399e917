"""An embedder that times its batches for ``/metrics`` (``remem_embedding_*``, by model) and,
with traces on, makes each an ``embeddings {model}`` span (GenAI conventions; no text)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import SpanKind

from remem import tracing
from remem.embeddings.base import Embedder, Vectors
from remem.metrics import EMBEDDING_BATCH, EMBEDDINGS


class Observed:
    """``inner`` with every ``embed_batch`` timed and its size counted; everything else (the
    model's distances, ``probe_dimensions``) is ``inner``'s."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._sizes = EMBEDDING_BATCH.labels(inner.name)
        self._times = EMBEDDINGS.labels(inner.name)

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimensions(self) -> int:
        return self.inner.dimensions

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        if not tracing.on():
            return await self._timed(texts)
        asked: dict[str, str | int] = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": self.inner.name,
            "remem.embeddings.texts": len(texts),
        }
        with tracing.TRACER.start_as_current_span(
            f"embeddings {self.inner.name}", kind=SpanKind.CLIENT, attributes=asked
        ):
            return await self._timed(texts)

    async def _timed(self, texts: Sequence[str]) -> Vectors:
        self._sizes.observe(len(texts))
        started = time.perf_counter()
        try:
            return await self.inner.embed_batch(texts)
        finally:
            self._times.observe(time.perf_counter() - started)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
