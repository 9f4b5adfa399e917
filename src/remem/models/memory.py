"""Long-term memory records, as the upstream server's MemoryRecord."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field
from ulid import ULID

from remem.models.bounds import Count, JsonObject, StoredDatetime
from remem.models.common import utcnow


class MemoryTypeEnum(StrEnum):
    SEMANTIC = "semantic"
    EPISODIC = "episodic"
    MESSAGE = "message"


class MemoryRecord(BaseModel):
    id: str = Field(default_factory=lambda: str(ULID()))
    text: str
    session_id: str | None = None
    user_id: str | None = None
    namespace: str | None = None
    last_accessed: StoredDatetime = Field(default_factory=utcnow)
    created_at: StoredDatetime = Field(default_factory=utcnow)
    updated_at: StoredDatetime = Field(default_factory=utcnow)
    pinned: bool = False
    access_count: Count = 0
    topics: list[str] | None = None
    entities: list[str] | None = None
    memory_hash: str | None = None
    discrete_memory_extracted: Literal["t", "f"] = "f"
    memory_type: MemoryTypeEnum = MemoryTypeEnum.SEMANTIC
    persisted_at: StoredDatetime | None = None
    extracted_from: list[str] | None = None
    event_date: StoredDatetime | None = None
    extraction_strategy: str = "discrete"
    extraction_strategy_config: JsonObject = Field(default_factory=dict)
    metadata: JsonObject | None = None
    # Facts that change (remem; the official client ignores them). valid_at: when the fact
    # became true (stored as event_date, else created_at, when not given); invalid_at: when it
    # stopped being true (null while true); superseded_by: the memories that replaced it;
    # supersedes: on create, memories this one replaces (they get invalid_at = this valid_at).
    valid_at: StoredDatetime | None = Field(
        default=None,
        description="When the fact became true (remem). Default: event_date, else created_at.",
    )
    invalid_at: StoredDatetime | None = Field(
        default=None,
        description="When the fact stopped being true (remem); null while it is true. "
        "Searches leave out memories whose invalid_at has passed unless asked.",
    )
    superseded_by: list[str] | None = Field(
        default=None, description="The memories that replaced this one (remem)."
    )
    supersedes: list[str] | None = Field(
        default=None,
        description="The memories this one replaces (remem). On create, each must exist in "
        "the same namespace and user: it gets invalid_at = this memory's valid_at and this id "
        "in its superseded_by, in the same write; it is never deleted.",
    )
    # remem: who said the message a memory was extracted from ("user", "assistant"...), so a
    # search can prefer or filter the user's own words (memory.search, first-person boost).
    role: str | None = None
    # remem: the managed API's namespace resource the memory is placed in (its namespaceRef),
    # within the store that is its namespace; left out of answers when unset.
    namespace_id: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The managed API's namespace resource holding it (remem).",
    )
    # remem: the managed API's deprecated namespace label (its ``namespace`` field), as written;
    # indexed casefolded (store.longterm.layout), never remem's namespace (the store).
    namespace_label: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The managed API's deprecated namespace label (remem).",
    )
