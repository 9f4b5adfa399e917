"""A deterministic, dependency-free embedder for fast unit tests only.

Feature hashing of lowercase word unigrams and character trigrams, each feature adding +1 or -1
to one bucket. Texts sharing words land close together, which is enough to exercise storage,
vector search and ranking code paths; it knows nothing about meaning, so never use it in a
deployment.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from remem.embeddings.base import Vectors, l2_normalise

_WORD = re.compile(r"\w+")


def _features(text: str) -> Iterator[str]:
    words = _WORD.findall(text.lower())
    for word in words:
        yield f"w:{word}"
        padded = f" {word} "
        for i in range(len(padded) - 2):
            yield f"c:{padded[i : i + 3]}"
    if not words:
        yield "empty"  # gives texts without words a unit vector too


class HashingEmbedder:
    """Signed feature hashing into ``dimensions`` buckets. For tests, not for search quality."""

    def __init__(self, dimensions: int = 64) -> None:
        if dimensions < 1:
            raise ValueError("dimensions must be at least 1")
        self.name = f"hashing-{dimensions}"
        self.dimensions = dimensions

    def _vector(self, text: str) -> NDArray[np.float32]:
        vector = np.zeros(self.dimensions, dtype=np.float32)
        for feature in _features(text):
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            vector[value % self.dimensions] += 1.0 if value >> 63 else -1.0
        if not vector.any():  # signs cancelled out: still return a unit vector
            vector[0] = 1.0
        return vector

    async def embed_batch(self, texts: Sequence[str]) -> Vectors:
        matrix = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            matrix[row] = self._vector(text)
        return l2_normalise(matrix)

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
