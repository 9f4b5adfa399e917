"""Wire format of erasures: the request and the receipt."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ErasureRequest(BaseModel):
    """Erase a user (everywhere, or within ``namespace``), or a whole namespace."""

    user_id: str | None = Field(default=None, description="Erase this user's data.")
    namespace: str | None = Field(
        default=None,
        description="Erase this namespace (with user_id: only that user's data in it).",
    )


class ErasureCounts(BaseModel):
    working_memory_sessions: int = Field(description="Session documents unlinked.")
    long_term_memories: int = Field(description="Long-term memory documents unlinked.")
    access_counters: int = Field(description="Search-hit counters of those memories removed.")
    task_records: int = Field(
        description="Task records of the sessions (pending, running or run in the last 15 "
        "minutes) cancelled and removed."
    )
    managed_namespaces: int = Field(
        default=0,
        description="The managed API's namespace resources of the namespace's store removed "
        "(erasing a namespace only).",
    )


class ErasureReceipt(BaseModel):
    id: str = Field(description="The receipt's id; its audit log entry carries it.")
    user_id: str | None
    namespace: str | None
    counts: ErasureCounts
    started_at: datetime
    finished_at: datetime
    requested_by: str = Field(description="Subject of the caller who asked.")
