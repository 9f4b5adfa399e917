"""Wire models of the console's overview routes: ``GET /v1/namespaces``, ``GET /v1/tasks``
(remem only; the upstream server has none of them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class NamespaceInfo(BaseModel):
    name: str = Field(description="The namespace.")
    sessions: int = Field(description="Its live working-memory sessions (the caller's user's).")
    memories: int = Field(description="Its long-term memories (the caller's user's).")


class NamespaceList(BaseModel):
    namespaces: list[NamespaceInfo] = Field(description="This page, sorted by name.")
    total: int = Field(description="Namespaces the caller may see that hold anything.")


class Work(BaseModel):
    """A piece of background work, named by its key: what it does (``kind``: promote, extract,
    summarize, periodic, view) and the session it is for, or the periodic job's ``name``."""

    kind: str
    namespace: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    name: str | None = Field(default=None, description="A periodic job's name, a view task's id.")


class DueWork(Work):
    due_at: datetime = Field(description="When it is due (a claimed one: when its lease ends).")


class DueSummary(BaseModel):
    members: int = Field(description="Work in the due set: due now, later, or claimed.")
    due_now: int = Field(description="Due now and not yet claimed by a worker's poller.")
    oldest_due_seconds: float = Field(description="How long ago the oldest of those fell due.")
    next: list[DueWork] = Field(description="The soonest due, up to limit.")


class TaskRun(Work):
    task: str = Field(description="The task function.")
    when: datetime = Field(description="When it was scheduled to run.")
    worker: str | None = Field(default=None, description="The worker running it.")
    started: datetime | None = None


class WorkerSeen(BaseModel):
    name: str
    last_seen: datetime


class FailedRun(Work):
    task: str = Field(description="The task function.")
    error: str = Field(description="The exception's type and the first line of its message.")
    attempt: int = Field(description="Which attempt failed (1 for the first).")
    final: bool = Field(description="No retry follows: the work was given up.")
    at: datetime = Field(description="When it failed.")


class TaskOverview(BaseModel):
    due: DueSummary
    queued: int = Field(description="Tasks Docket holds to run now: waiting or running.")
    running: list[TaskRun] = Field(description="Running now, up to limit.")
    scheduled: list[TaskRun] = Field(
        description="Waiting for a worker or a later time, up to limit."
    )
    workers: list[WorkerSeen] = Field(description="Workers seen lately.")
    failed: list[FailedRun] = Field(
        default_factory=list,
        description="The newest failed runs, newest first, up to limit (remem keeps the last "
        "200; an expected wait, such as summarisation waiting for extraction, is left out "
        "unless it was the last attempt).",
    )


class TokenView(BaseModel):
    """What is kept of an API token: never the token, nor its keyed hash."""

    id: str = Field(description="The public id (the 12 characters after `rmm_`).")
    namespaces: list[str]
    role: str
    user_id: str | None = None
    status: str = Field(description="active, revoked or expired.")
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
