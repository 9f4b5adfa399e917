"""What the long-term documents' reads answer, decoded: shared by ``documents`` (a single
Redis) and ``documents_cluster`` (a Redis Cluster), which send different commands for the
same rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from remem.store.longterm.layout import VECTOR_DTYPE, decode_fields
from remem.store.longterm.values import Facts, number
from remem.store.schema import TAG_SEPARATOR

# Record fields returned with search results: everything but the vector and the keyword text,
# which are large and which a caller never sees.
HIDDEN_FIELDS = frozenset({"embedding", "search_text", "search_terms"})


def pairs(values: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(values[::2], values[1::2], strict=True))


def record_of(names: Sequence[str], row: list[Any] | None, hits: bool) -> dict[str, Any] | None:
    """A ``READ_RECORDS`` row: the fields ``names``, ``access_count`` plus the row's hits (its
    last value) when ``hits``; None for a missing memory."""
    if not row:
        return None
    doc = decode_fields(list(names), row[: len(names)])
    if hits and row[-1]:
        doc["access_count"] = int(doc.get("access_count") or 0) + int(row[-1])
    return doc


def facts_of(row: list[Any], roles: bool) -> Facts:
    """A ``READ`` row of created_at, last_accessed, entities (and role, with ``roles``)."""
    made = number(row[0])
    tags = row[2]
    tag_text = tags.decode("utf-8", "replace") if tags else ""
    return Facts(
        made,
        number(row[1], made),
        tag_text.split(TAG_SEPARATOR) if tag_text else [],
        row[3].decode("utf-8", "replace") if roles and row[3] else None,
    )


def distances_of(
    ids: Sequence[str], raws: Sequence[bytes | None], vector: np.ndarray
) -> dict[str, float]:
    """Cosine distance from ``vector`` of each stored vector in ``raws`` (one per id; a
    missing one, or one of another size, is left out)."""
    # Compared as the index compares them: both sides as stored (FLOAT16), in float32.
    query = np.asarray(vector, dtype=VECTOR_DTYPE).astype(np.float32)
    query_norm = float(np.linalg.norm(query))
    out = {}
    for memory_id, raw in zip(ids, raws, strict=True):
        if not raw or len(raw) != query.size * VECTOR_DTYPE().itemsize:
            continue
        stored = np.frombuffer(raw, dtype=VECTOR_DTYPE).astype(np.float32)
        norms = float(np.linalg.norm(stored)) * query_norm
        out[memory_id] = 1.0 - float(stored @ query) / norms if norms else 1.0
    return out
