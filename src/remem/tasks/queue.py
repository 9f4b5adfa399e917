"""The task queue: one Docket per process, opened with ``Resources`` and reused by every
schedule (the upstream server opened a new Docket connection per task, on the request's thread).

Docket keeps every key under its name, which is derived from remem's key prefix
(``<prefix>tasks``), so its queue, streams and run records sit beside remem's other keys and
go away with them. Tasks carry plain JSON values only (ids and strings): Docket serialises the
arguments itself, and a plain value reads the same in every process and version.

Requests never schedule here. A write marks its session due in its own script (``store.due``)
and a worker's poller turns what is due into Docket tasks (``schedule_due``, ``tasks.poller``).
Each task has one key per session (the due set's member), and scheduling *replaces* the task
under that key:
- promotion is due at once; a second PUT before it ran coalesces with it;
- extraction is due ``debounce`` seconds after the session's last write (each write moves it
  later); a run that finds messages arrived meanwhile schedules the next (``extract_again``),
  so the last turns are always extracted;
- summarisation likewise, after the last write that left the session past its threshold.
A session due again while its task is running gets a new run (Docket lets the running one
finish as superseded), so nothing written during a run waits for another write.
Periodic work (``periodic:<name>``) is *added*, not replaced: while a run is scheduled or
running, Docket ignores the next, so one runs at a time across all workers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from docket import Docket
from docket.execution import Disposition, TaskCall

from remem.background.summary_views import Scope
from remem.store.connection import backend_errors
from remem.store.due import TaskRuns
from remem.store.due_cluster import due_set
from remem.store.failures import TaskFailures
from remem.store.keys import Keys
from remem.store.working import Session
from remem.tasks import jobs

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

PERIODIC = "periodic"
KINDS = ("promote", "extract", "summarize")  # one task key per session for each
CANCELS_AT_ONCE = 32  # Docket cancels in flight while forgetting sessions


def docket_name(keys: Keys) -> str:
    return f"{keys.prefix}tasks"


class TaskQueue:
    """``async with TaskQueue(url, keys, debounce, redis) as queue:`` then
    ``schedule_due(members)``. ``url`` is Docket's Redis; ``redis`` remem's (the due set, the
    failures); ``docket_redis`` a client of ``url`` when that is another Redis
    (``REMEM_TASKS_REDIS_URL``), through which remem reads Docket's run records."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        debounce_seconds: float,
        redis: Redis,
        docket_redis: Redis | None = None,
    ) -> None:
        self.keys = keys
        self.due = due_set(redis, keys)  # remem's keys; Docket speaks to its own
        self.runs = TaskRuns(docket_redis or redis)
        self.failures = TaskFailures(redis, keys)
        self.debounce = timedelta(seconds=debounce_seconds)
        self.docket = Docket(name=docket_name(keys), url=url)
        for task in (*jobs.TASKS, *jobs.PERIODIC.values()):
            self.docket.register(task)

    @property
    def name(self) -> str:
        return self.docket.name

    async def __aenter__(self) -> TaskQueue:
        await self.docket.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.docket.__aexit__(exc_type, exc, tb)

    async def queued(self) -> int:
        """Tasks scheduled to run now that have not ended (waiting or running), all workers'."""
        with backend_errors():
            return await self.runs.queued(self.docket.stream_key)

    async def extract_again(self, session: Session) -> None:
        """Schedule the session's extraction after the debounce, whatever was scheduled (called
        by a run that found messages written during it: that run is on a worker)."""
        key = f"extract:{self.keys.working_memory(*session)}"
        when = datetime.now(UTC) + self.debounce
        schedule = self.docket.replace(jobs.extract_memories, when=when, key=key)
        with backend_errors():
            await schedule(*session)

    async def schedule_due(self, members: Sequence[str]) -> None:
        """Schedule now the work of these due-set members (``store.due``), in two pipelined
        batches; a member of an unknown kind (a newer version's) is logged and dropped.
        Redis gone: BackendUnavailable, and the members stay leased, to be claimed again."""
        now = datetime.now(UTC)
        replace: list[TaskCall] = []
        add: list[TaskCall] = []
        for member in members:
            kind, _, rest = member.partition(":")
            if kind == PERIODIC and rest in jobs.PERIODIC:
                add.append(self.docket.call(jobs.PERIODIC[rest], when=now, key=member)())
                continue
            extra: tuple[int, ...] = ()
            if kind == "summarize":
                window, _, rest = rest.partition(":")
                extra = (int(window),) if window.isdigit() else ()
            task = _SESSION_TASKS.get(kind)
            if (
                task is None
                or (kind == "summarize" and not extra)
                or not rest.startswith(self.keys.working_memory_prefix)
            ):
                log.warning("due work of an unknown kind dropped: %r", member)
                continue
            namespace, user_id, session_id = self.keys.parse_working_memory(rest)
            call = self.docket.call(task, when=now, key=f"{kind}:{rest}")
            replace.append(call(session_id, user_id, namespace, *extra))
        with backend_errors():
            done = [*await self.docket.replace_many(replace), *await self.docket.add_many(add)]
        for execution in done:
            if execution.disposition is Disposition.FAILED and execution.schedule_exception:
                with backend_errors():
                    raise execution.schedule_exception

    async def refresh_view(self, view_id: str, task_id: str, scope: Scope) -> None:
        """Run a summary view in full now, under the task's id (a repeat is coalesced)."""
        schedule = self.docket.add(jobs.refresh_summary_view, key=f"view:{task_id}")
        with backend_errors():
            await schedule(view_id, task_id, scope.namespace, scope.user_id)

    def _task_key(self, kind: str, session: Session) -> str:
        return f"{kind}:{self.keys.working_memory(*session)}"

    async def forget_sessions(self, sessions: Sequence[Session]) -> int:
        """Drop every task of these sessions (erased: nothing of them may run later): their
        due-set members are removed, pending tasks cancelled, a running one signalled to stop
        (Docket's cancel, best effort), and the run records Docket keeps for 15 minutes
        (``runs:<task key>``, which hold the session's ids) unlinked. Returns how much pending
        work was dropped: due-set members, and tasks with a record (scheduled, running or run
        within the last 15 minutes). Their failed runs leave remem's list of failures."""
        task_keys = [self._task_key(kind, s) for s in sessions for kind in KINDS]
        session_keys = [self.keys.working_memory(*s) for s in sessions]
        records = await self.due.forget(session_keys)
        await self.failures.forget(session_keys)  # a failure names its session
        for start in range(0, len(task_keys), CANCELS_AT_ONCE):
            chunk = task_keys[start : start + CANCELS_AT_ONCE]
            runs = [self.docket.runs_key(k) for k in chunk]
            found = await self.runs.count(runs)
            with backend_errors():
                await asyncio.gather(*(self.docket.cancel(k) for k in chunk))
            await self.runs.delete(runs)
            records += found
        return records


_SESSION_TASKS: dict[str, jobs.Task] = {
    "promote": jobs.promote_memories,
    "extract": jobs.extract_memories,
    "summarize": jobs.summarize_working_memory,
}
