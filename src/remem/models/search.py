"""Wire models of long-term memory: filters, search, create, edit and forget.

Filter names follow the Agent Memory Server 0.15 (``eq``, ``ne``, ``any``, ``all``,
``startswith``; dates ``gt``, ``gte``, ``lt``, ``lte``, ``eq``, ``between``) and the names
``agent-memory-client`` sends (``in_``, ``not_eq``, ``not_in``, ``none``). Several operators in
one filter all apply (AND); on a date filter they make one range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from remem.models.bounds import MAX_COUNT, MAX_SEARCH_OFFSET, FiniteFloat, StoredDatetime
from remem.models.memory import MemoryRecord, MemoryTypeEnum

MAX_WEIGHT = 1_000_000.0
MAX_DAYS = 1_000_000.0  # about 2,700 years
MIN_DAYS = 0.001  # 86 s: a shorter half-life overflowed the decay (every score 0)


class TagFilter(BaseModel):
    """Filter on a tag field. On a list field (topics, entities) ``eq`` means "contains"."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    eq: str | None = None
    ne: str | None = None
    not_eq: str | None = None
    any: list[str] | None = None
    in_: list[str] | None = Field(default=None, validation_alias=AliasChoices("in_", "in"))
    all: list[str] | None = None
    none: list[str] | None = None
    not_in: list[str] | None = None
    startswith: str | None = None


class MemoryTypeFilter(TagFilter):
    """A tag filter whose values must be memory types (anything else is a 422)."""

    eq: MemoryTypeEnum | None = None
    ne: MemoryTypeEnum | None = None
    not_eq: MemoryTypeEnum | None = None
    any: list[MemoryTypeEnum] | None = None  # type: ignore[assignment]
    in_: list[MemoryTypeEnum] | None = Field(  # type: ignore[assignment]
        default=None, validation_alias=AliasChoices("in_", "in")
    )
    all: list[MemoryTypeEnum] | None = None  # type: ignore[assignment]
    none: list[MemoryTypeEnum] | None = None  # type: ignore[assignment]
    not_in: list[MemoryTypeEnum] | None = None  # type: ignore[assignment]


class DateFilter(BaseModel):
    """Filter on a date: ISO 8601 datetimes or epoch seconds; naive datetimes are UTC."""

    model_config = ConfigDict(extra="forbid")

    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None
    eq: datetime | None = None
    between: tuple[datetime, datetime] | None = None


class SearchFilters(BaseModel):
    """Every filter of a search (also used by forget and compact scopes)."""

    session_id: TagFilter | None = None
    namespace: TagFilter | None = None
    user_id: TagFilter | None = None
    topics: TagFilter | None = None
    entities: TagFilter | None = None
    extraction_strategy: TagFilter | None = None
    memory_type: MemoryTypeFilter | None = None
    role: TagFilter | None = None  # remem: the role of the message a memory came from
    namespace_id: TagFilter | None = None  # remem: the managed API's namespace resource
    # remem: the managed API's namespace label, casefolded (store.longterm.layout)
    namespace_label_tag: TagFilter | None = None
    attribute_tags: TagFilter | None = None  # remem: the managed API's attributes, as tagged
    created_at: DateFilter | None = None
    last_accessed: DateFilter | None = None
    event_date: DateFilter | None = None


class SearchRequest(SearchFilters):
    """The body of ``POST /v1/long-term-memory/search``."""

    model_config = ConfigDict(extra="ignore")

    text: str = ""
    search_mode: Literal["semantic", "keyword", "hybrid"] = Field(
        default="hybrid",
        description="hybrid (the default: vector and BM25 scores fused, which finds the most), "
        "semantic (vector only) or keyword (BM25 only). The upstream server defaults to "
        "semantic; its client sends no mode.",
    )
    hybrid_alpha: FiniteFloat = Field(
        default=0.35, ge=0.0, le=1.0, description="Weight of the semantic score in hybrid mode."
    )
    entity_boost: FiniteFloat = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Added to the relevance of a memory one of whose entities the text names "
        "(remem; 0 turns it off).",
    )
    first_person_boost: FiniteFloat = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Added to the relevance of a memory extracted from the user's own message "
        '(role "user") when the text speaks in the first person: "I", "me", "my", "mine", '
        '"myself" (remem; 0 turns it off).',
    )
    distance_threshold: FiniteFloat | None = Field(default=None, ge=0.0, le=2.0)
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(
        default=0,
        ge=0,
        le=MAX_SEARCH_OFFSET,
        description="Results to skip; a search ranks 3 x (offset + limit) candidates, so the "
        f"deepest page starts at {MAX_SEARCH_OFFSET:,}.",
    )
    recency_boost: bool = True
    recency_semantic_weight: FiniteFloat = Field(default=0.8, ge=0.0, le=MAX_WEIGHT)
    recency_recency_weight: FiniteFloat = Field(default=0.2, ge=0.0, le=MAX_WEIGHT)
    recency_freshness_weight: FiniteFloat = Field(default=0.6, ge=0.0, le=MAX_WEIGHT)
    recency_novelty_weight: FiniteFloat = Field(default=0.4, ge=0.0, le=MAX_WEIGHT)
    recency_half_life_last_access_days: FiniteFloat = Field(default=7.0, ge=MIN_DAYS, le=MAX_DAYS)
    recency_half_life_created_days: FiniteFloat = Field(default=30.0, ge=MIN_DAYS, le=MAX_DAYS)
    server_side_recency: bool | None = Field(default=None, description="Accepted, ignored.")
    include_superseded: bool = Field(
        default=False,
        description="Also return memories whose invalid_at has passed (superseded facts), "
        "with their invalid_at and superseded_by (remem).",
    )
    as_of: StoredDatetime | None = Field(
        default=None,
        description="Return what was true at this instant: valid_at at or before it and "
        "invalid_at null or after it (remem). Cannot be combined with include_superseded.",
    )

    @model_validator(mode="after")
    def _one_validity_rule(self) -> SearchRequest:
        if self.include_superseded and self.as_of is not None:
            raise ValueError("as_of and include_superseded cannot be combined")
        return self


class MemoryRecordResult(MemoryRecord):
    """A search hit: the record, its cosine distance to the query and its ranking score."""

    dist: float
    score: float | None = None
    score_type: str | None = None


class MemoryRecordResults(BaseModel):
    memories: list[MemoryRecordResult]
    total: int
    next_offset: int | None = None


class NewMemoryRecord(MemoryRecord):
    """A record to create; ``search_text`` (default: ``text``) is what keyword search reads."""

    search_text: str | None = None


class CreateMemoryRecordRequest(BaseModel):
    memories: list[NewMemoryRecord]
    deduplicate: bool = True


class EditMemoryRecordRequest(BaseModel):
    """PATCH body: only the fields sent change; an explicit null clears a nullable field."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    search_text: str | None = None
    topics: list[str] | None = None
    entities: list[str] | None = None
    memory_type: MemoryTypeEnum | None = None
    namespace: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    event_date: StoredDatetime | None = None
    valid_at: StoredDatetime | None = None
    invalid_at: StoredDatetime | None = None
    pinned: bool | None = None
    metadata: dict[str, Any] | None = None
    namespace_id: str | None = None
    namespace_label: str | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> EditMemoryRecordRequest:
        for name in ("text", "memory_type", "pinned"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class WriteOutcome(BaseModel):
    """What a create did with one record (``?detail=true``)."""

    id: str = Field(description="The id the record was sent with (or was given).")
    outcome: Literal["added", "updated", "merged", "distinct"] = Field(
        description="added: stored as a new memory; updated: its id existed and was replaced; "
        "merged: taken into memory_id (the same fact); distinct: stored, though the LLM judge "
        "compared it with similar memories and found them different."
    )
    memory_id: str = Field(description="The memory that holds the record now.")
    supersedes: list[str] = Field(
        default_factory=list, description="Memories this one superseded (now invalid)."
    )
    superseded_by: list[str] = Field(
        default_factory=list,
        description="Memories that supersede this one: it arrived as an older version.",
    )
    similar: list[str] = Field(
        default_factory=list, description="Near memories judged different (kept apart)."
    )


class CreateDetail(BaseModel):
    """The answer to a create with ``?detail=true``."""

    status: str = "ok"
    memories: list[WriteOutcome]


class MemoryHistory(BaseModel):
    """The versions of a fact, oldest first, each with its validity."""

    id: str
    versions: list[MemoryRecord]


class ForgetPolicy(BaseModel):
    """The Agent Memory Server's forgetting policy."""

    max_age_days: FiniteFloat | None = Field(default=None, ge=0.0)
    max_inactive_days: FiniteFloat | None = Field(default=None, ge=0.0)
    budget: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    memory_type_allowlist: list[str] | None = None
    hard_age_multiplier: FiniteFloat = Field(default=12.0, ge=0.0)


class ForgetResponse(BaseModel):
    scanned: int
    deleted: int
    deleted_ids: list[str]
    dry_run: bool
