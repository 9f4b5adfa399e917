"""The embedding seam: one protocol, its errors (from ``remem.errors``), one normaliser.

Every embedder turns a batch of texts into a float32 array of shape ``(len(texts), dimensions)``
whose rows have unit length, so cosine similarity is a dot product and the vector index can use
either metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from remem.errors import EmbeddingMismatch, EmbeddingUnavailable

__all__ = ["Embedder", "EmbeddingMismatch", "EmbeddingUnavailable", "Vectors", "l2_normalise"]

Vectors = NDArray[np.float32]
"""Rows are texts, columns are dimensions; every row has unit L2 norm."""


class Embedder(Protocol):
    """What the memory layer needs from an embedding model.

    ``name`` and ``dimensions`` are read-only from the caller's side; ``dimensions`` must be
    right before the vector index is created (call :meth:`warm_up` at startup).
    """

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        """One unit-length float32 row per text, in the order given."""
        ...

    async def warm_up(self) -> None:
        """Load the model or reach the provider now, so the first request is not the slow one
        and ``dimensions`` is known. Raises :class:`EmbeddingUnavailable`."""
        ...

    async def aclose(self) -> None: ...


def l2_normalise(vectors: ArrayLike) -> Vectors:
    """Rows scaled to unit length, as float32; an all-zero row stays zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    unit = np.zeros_like(array)
    np.divide(array, norms, out=unit, where=norms > 0)
    return unit
