"""What the long-term store answers with: plain values, no Redis in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


# Scored and Facts are built for every candidate of every search (hundreds a request): named
# tuples construct several times faster than frozen dataclasses.
class Scored(NamedTuple):
    """One search match: the memory id and its raw score."""

    id: str
    value: float  # cosine distance (vector search) or BM25 score (text search)


class Facts(NamedTuple):
    """What ranking reads of a candidate besides its score."""

    created_at: float
    last_accessed: float
    entities: list[str]
    role: str | None = None  # read only when a search asks (a first-person query)


@dataclass(frozen=True)
class Counts:
    """How many memories match a filter, and how many are indexed in all."""

    matches: int
    size: int


@dataclass(frozen=True)
class Found:
    """The candidates of a semantic or hybrid search, from one ``LongTermStore.candidates``."""

    counts: Counts  # of the filter
    nearest: list[Scored]  # KNN, nearest first (within the distance, when one was given)
    keyword_total: int  # BM25 matches of the words (0 without words)
    keyword: list[Scored]  # BM25, best first
    within: int = 0  # with a distance: filtered memories within it
    keyword_within: int = 0  # with a distance and words: BM25 matches within it
    generation: str | None = None  # the generation token read in the same round trip


@dataclass(frozen=True)
class Row:
    """A memory as listed for forgetting and compaction (fields from the index only)."""

    id: str
    created_at: float
    last_accessed: float
    memory_type: str
    pinned: bool
    memory_hash: str
    namespace: str | None
    user_id: str | None
    linked: bool = False  # in a chain of versions: it supersedes or is superseded
    place: tuple[str, str] = ("", "")  # its namespace_id and label tag (the managed API's)


class Written(NamedTuple):
    """What ``upsert_many`` did with one document."""

    created_at: float | None  # the stored created_at it kept; None for a new memory
    refused: bool = False  # another namespace or user owns the id: nothing written


class Link(NamedTuple):
    """A change of one stored memory's place in a chain of versions (facts that change):
    ``other`` is added to its list ``field`` (``superseded_by`` or ``supersedes``), and its
    ``invalid_at`` lowered to ``invalid_at`` when given; applied only if the memory still
    exists and belongs to ``namespace`` and ``user_id``."""

    memory_id: str
    field: str
    other: str
    invalid_at: float | None
    namespace: str | None
    user_id: str | None
    at: float  # updated_at


def number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
