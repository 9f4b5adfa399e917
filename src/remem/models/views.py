"""Summary views and tasks, as the upstream server's (Agent Memory Server 0.15.2) JSON.

A view names a pool of long-term memories (``filters``, ``time_window_days``) and how to cut it
into partitions (``group_by``); each partition's summary is a ``SummaryViewPartitionResult``.
A full run of a view is a background ``Task`` whose status the client polls.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from remem.models.common import utcnow

GROUP_FIELDS = ("user_id", "namespace", "session_id", "memory_type")
"""The fields a view may group by or filter on (the upstream server's set)."""

MAX_WINDOW_DAYS = 100_000
"""Largest ``time_window_days``: now minus more than about 739,000 days is before year 1, which
no datetime holds (the upstream server has no bound and fails on such a view)."""


class TaskStatusEnum(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class TaskTypeEnum(StrEnum):
    SUMMARY_VIEW_FULL_RUN = "summary_view_full_run"


class Task(BaseModel):
    """A background task's record: created pending, then running, then success or failed."""

    id: str
    type: TaskTypeEnum
    status: TaskStatusEnum = TaskStatusEnum.PENDING
    view_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None


class _ViewFields(BaseModel):
    name: str | None = Field(default=None, description="Optional human-readable name")
    source: Literal["long_term", "working_memory"] = Field(
        description="Memory source to summarize; only 'long_term' is supported (else 400)"
    )
    group_by: list[str] = Field(
        default_factory=list,
        description=f"Fields that partition the memories, a subset of {list(GROUP_FIELDS)}",
    )
    filters: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Exact values every memory of the view has, keys among {list(GROUP_FIELDS)}",
    )
    time_window_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_DAYS,
        description="Only memories created in the last N days, counted at each run",
    )
    continuous: bool = Field(
        default=False,
        description="Refreshed whole by the workers every REMEM_SUMMARY_VIEW_REFRESH_SECONDS "
        "(an hour)",
    )
    prompt: str | None = Field(
        default=None, description="Instructions for the LLM summary (ignored without an LLM)"
    )
    model_name: str | None = Field(
        default=None, description="Stored as given; summaries use the configured LLM model"
    )


class CreateSummaryViewRequest(_ViewFields):
    pass


class SummaryView(_ViewFields):
    id: str = Field(description="Server-assigned id")


class SummaryViewPartitionResult(BaseModel):
    view_id: str
    group: dict[str, str] = Field(description="The partition's value of each group_by field")
    summary: str
    memory_count: int = Field(ge=0, description="Memories the summary was made from")
    computed_at: datetime = Field(default_factory=utcnow)


class RunSummaryViewPartitionRequest(BaseModel):
    group: dict[str, str] = Field(description="A value for each of the view's group_by fields")


class RunSummaryViewRequest(BaseModel):
    task_id: str | None = Field(
        default=None,
        description="Client-chosen task id; a run already holding it is returned, not repeated",
    )
    force: bool = Field(
        default=False,
        description="Sent by agent-memory-client; every run recomputes, so it changes nothing",
    )
