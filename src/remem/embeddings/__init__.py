"""Embedding models behind one seam, :class:`Embedder`.

- ``local`` (default): all-MiniLM-L6-v2 int8 ONNX from a wheel, in-process, 384 dimensions.
- ``openai``: any OpenAI-compatible ``/embeddings`` endpoint.
- ``hashing``: feature hashing, for fast unit tests only.

Each implementation imports its own dependencies, so choosing one never loads the others.
"""

from __future__ import annotations

from typing import Any

from remem.embeddings.base import Embedder, EmbeddingUnavailable, Vectors, l2_normalise

__all__ = ["Embedder", "EmbeddingUnavailable", "Vectors", "build_embedder", "l2_normalise"]

KINDS = ("local", "openai", "hashing")


def build_embedder(kind: str, **options: Any) -> Embedder:
    """The embedder of ``kind``, built with the keyword arguments of its class.

    ``local``: threads, max_batch, batch_wait_ms, max_tokens, model_path.
    ``openai``: model (required), base_url, api_key, dimensions, batch_size, max_retries,
    backoff_seconds, timeout_seconds. ``hashing``: dimensions.
    """
    if kind == "local":
        from remem.embeddings.local import LocalEmbedder

        return LocalEmbedder(**options)
    if kind == "openai":
        from remem.embeddings.openai import OpenAIEmbedder

        return OpenAIEmbedder(**options)
    if kind == "hashing":
        from remem.embeddings.hashing import HashingEmbedder

        return HashingEmbedder(**options)
    raise ValueError(f"unknown embedder {kind!r}: expected one of {', '.join(KINDS)}")
