"""Embedding models behind one seam, :class:`Embedder`.

- ``static`` (default): all-MiniLM-L6-v2 distilled to a token table shipped with remem,
  in-process, 256 dimensions.
- ``local``: all-MiniLM-L6-v2 int8 ONNX from a wheel (extra ``minilm``), in-process, 384
  dimensions.
- ``openai``: any OpenAI-compatible ``/embeddings`` endpoint.
- ``hashing``: feature hashing, for fast unit tests only.

Each implementation imports its own dependencies, so choosing one never loads the others.
"""

from __future__ import annotations

from typing import Any

from remem.embeddings.base import (
    Embedder,
    EmbeddingMismatch,
    EmbeddingUnavailable,
    Vectors,
    l2_normalise,
)

__all__ = [
    "Embedder",
    "EmbeddingMismatch",
    "EmbeddingUnavailable",
    "Vectors",
    "build_embedder",
    "dedup_distance_of",
    "judge_distance_of",
    "l2_normalise",
]

KINDS = ("static", "local", "openai", "hashing")

DEFAULT_DEDUP_DISTANCE = 0.05
# How near a stored memory must be for the LLM judge to compare a new one with it (same,
# refines, updates, different). Wider than a duplicate's distance: a changed fact ("lives in
# Paris" / "moved to Berlin") lies 0.08-0.25 from its older version with the static model, an
# unrelated one of the same user 0.29-0.33 (memory.dedup).
DEFAULT_JUDGE_DISTANCE = 0.3


def build_embedder(kind: str, **options: Any) -> Embedder:
    """The embedder of ``kind``, built with the keyword arguments of its class.

    ``static``: model_dir, max_tokens. ``local``: threads, max_batch, batch_wait_ms,
    max_tokens, model_path.
    ``openai``: model (required), base_url, api_key, dimensions, batch_size, max_retries,
    backoff_seconds, timeout_seconds. ``hashing``: dimensions.
    """
    if kind == "static":
        from remem.embeddings.static import StaticEmbedder

        return StaticEmbedder(**options)
    if kind == "local":
        try:
            from remem.embeddings.local import LocalEmbedder
        except ImportError as exc:
            raise EmbeddingUnavailable(
                f"the minilm model needs its extra: pip install 'remem[minilm]' ({exc})"
            ) from exc

        return LocalEmbedder(**options)
    if kind == "openai":
        from remem.embeddings.openai import OpenAIEmbedder

        return OpenAIEmbedder(**options)
    if kind == "hashing":
        from remem.embeddings.hashing import HashingEmbedder

        return HashingEmbedder(**options)
    raise ValueError(f"unknown embedder {kind!r}: expected one of {', '.join(KINDS)}")


def judge_distance_of(embedder: Embedder) -> float:
    """How near a memory must be to go to the LLM judge with ``embedder``'s vectors."""
    return float(getattr(embedder, "judge_distance", DEFAULT_JUDGE_DISTANCE))


def dedup_distance_of(embedder: Embedder) -> float:
    """The semantic-deduplication distance that suits ``embedder`` (its ``dedup_distance``)."""
    return float(getattr(embedder, "dedup_distance", DEFAULT_DEDUP_DISTANCE))
