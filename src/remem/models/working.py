"""Working memory on the wire (Agent Memory Server 0.15 shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from ulid import ULID

from remem.models.bounds import MAX_TTL_SECONDS, Count, JsonObject, JsonValue, TtlSeconds
from remem.models.common import utcnow
from remem.models.memory import MemoryRecord


class MemoryStrategyConfig(BaseModel):
    strategy: Literal["discrete", "summary", "preferences", "custom"] = "discrete"
    config: JsonObject = Field(default_factory=dict)


class MemoryMessage(BaseModel):
    role: str
    content: str
    id: str = Field(default_factory=lambda: str(ULID()))
    created_at: datetime = Field(default_factory=utcnow)
    persisted_at: datetime | None = None
    discrete_memory_extracted: Literal["t", "f"] = "f"
    # remem: who sent the message and any JSON about it, as the managed API's session events
    # carry them (``actorId``, ``metadata``); left out of answers when unset.
    actor_id: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Who sent it (remem; the managed API's actorId).",
    )
    metadata: JsonValue = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Any JSON about the message (remem; the managed API's event metadata).",
    )


class _WorkingMemoryFields(BaseModel):
    messages: list[MemoryMessage] = Field(default_factory=list)
    memories: list[MemoryRecord] = Field(default_factory=list)
    data: JsonObject | None = None
    context: str | None = None
    user_id: str | None = None
    tokens: Count = 0
    namespace: str | None = None
    long_term_memory_strategy: MemoryStrategyConfig = Field(default_factory=MemoryStrategyConfig)
    ttl_seconds: TtlSeconds | None = Field(
        default=None,
        description=f"Seconds until the session expires (1 to {MAX_TTL_SECONDS:,}); every "
        "write restarts the clock. A PUT without it makes the session persistent.",
    )


class UpdateWorkingMemory(_WorkingMemoryFields):
    """PUT body. The session id comes from the path; timestamps are the server's."""

    @model_validator(mode="after")
    def _memories_have_id_and_text(self) -> UpdateWorkingMemory:
        for i, memory in enumerate(self.memories):
            if not memory.id or not memory.text:
                raise ValueError(f"memory at index {i} needs a non-empty id and text")
        return self


class WorkingMemory(_WorkingMemoryFields):
    session_id: str
    # remem: the managed API's namespace resource the session is placed in (its first event's
    # namespaceRef), where its extracted memories are placed; a PUT keeps it. Left out unset.
    namespace_id: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The managed API's namespace resource its memories are placed in (remem).",
    )
    # remem: the managed API's deprecated namespace label (its first event's), given to its
    # extracted memories; a PUT keeps it. Left out unset.
    namespace_label: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="The managed API's namespace label its memories are given (remem).",
    )
    last_accessed: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class WorkingMemoryResponse(WorkingMemory):
    context_percentage_total_used: float | None = None
    context_percentage_until_summarization: float | None = None


class AppendMessages(BaseModel):
    """Body of ``POST /v1/working-memory/{session_id}/messages`` (remem only)."""

    messages: list[MemoryMessage] = Field(min_length=1)
    namespace: str | None = None
    user_id: str | None = None
    ttl_seconds: TtlSeconds | None = Field(
        default=None,
        description=f"Set a new TTL (1 to {MAX_TTL_SECONDS:,} seconds); omitted keeps the "
        "session's own.",
    )


class SessionListResponse(BaseModel):
    sessions: list[str]
    total: int
