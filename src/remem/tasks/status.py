"""Background work as it stands (``GET /v1/tasks``): the due set (what writes marked, not yet
handed to Docket), Docket's queue, its running and scheduled executions and its workers, read
through Docket's public ``snapshot()``, and remem's own list of the newest failed runs
(``store.failures``: Docket keeps a run's record 15 minutes under its key only)."""

from __future__ import annotations

from datetime import UTC, datetime

from docket.execution import Execution

from remem.models.overview import (
    DueSummary,
    DueWork,
    FailedRun,
    TaskOverview,
    TaskRun,
    Work,
    WorkerSeen,
)
from remem.store.connection import backend_errors
from remem.store.keys import Keys
from remem.tasks.queue import PERIODIC, TaskQueue


def describe(key: str, keys: Keys) -> Work:
    """The parts of a due-set member or a task key: ``<kind>:<session key>``,
    ``summarize:<window>:<session key>``, ``periodic:<name>``, ``view:<task id>``."""
    kind, _, rest = key.partition(":")
    if kind == "summarize":
        rest = rest.partition(":")[2]
    if rest.startswith(keys.working_memory_prefix):
        namespace, user_id, session_id = keys.parse_working_memory(rest)
        return Work(kind=kind, namespace=namespace, user_id=user_id, session_id=session_id)
    return Work(kind=kind, name=rest) if kind in (PERIODIC, "view") else Work(kind=kind)


def _run(execution: Execution, keys: Keys) -> TaskRun:
    return TaskRun(
        **describe(execution.key, keys).model_dump(),
        task=execution.function_name,
        when=execution.when,
        worker=getattr(execution, "worker", None),
        started=getattr(execution, "started", None),
    )


async def task_overview(queue: TaskQueue, limit: int) -> TaskOverview:
    """The due set's count, backlog and ``limit`` soonest members; Docket's queue length,
    running and scheduled executions (``limit`` of each, soonest first) and workers."""
    keys = queue.keys
    due_now, oldest = await queue.due.backlog()
    members, soonest = await queue.due.upcoming(limit)
    queued = await queue.queued()
    with backend_errors():
        snapshot = await queue.docket.snapshot()
    due = DueSummary(
        members=members,
        due_now=due_now,
        oldest_due_seconds=round(oldest, 3),
        next=[
            DueWork(**describe(m, keys).model_dump(), due_at=datetime.fromtimestamp(at, UTC))
            for m, at in soonest
        ],
    )
    running = sorted(snapshot.running, key=lambda e: e.started)[:limit]
    future = sorted(snapshot.future, key=lambda e: e.when)[:limit]
    return TaskOverview(
        due=due,
        queued=queued,
        running=[_run(e, keys) for e in running],
        scheduled=[_run(e, keys) for e in future],
        workers=[WorkerSeen(name=w.name, last_seen=w.last_seen) for w in snapshot.workers],
        failed=[_failed(f, keys) for f in await queue.failures.recent(limit)],
    )


def _failed(fields: dict[str, str], keys: Keys) -> FailedRun:
    return FailedRun(
        **describe(fields["key"], keys).model_dump(),
        task=fields["task"],
        error=fields["error"],
        attempt=int(fields["attempt"]),
        final=fields["final"] == "1",
        at=datetime.fromtimestamp(float(fields["at"]), UTC),
    )
