"""The task queue: one Docket per process, opened with ``Resources`` and reused by every
enqueue (the upstream server opened a new Docket connection per task, on the request's thread).

Docket keeps every key under its name, which is derived from remem's key prefix
(``<prefix>tasks``), so its queue, streams and run records sit beside remem's other keys and
go away with them. Tasks carry plain JSON values only (ids and strings): Docket serialises the
arguments itself, and a plain value reads the same in every process and version.

Each task has one key per session, and scheduling *replaces* the task under that key:
- promotion runs now; a second PUT before it ran coalesces with it;
- extraction runs ``debounce`` seconds after a write, scheduled by a process at most once a
  debounce per session (see ``extract``); a run that finds messages arrived meanwhile
  schedules the next, so the last turns are always extracted;
- summarisation likewise, after the last write that left the session past its threshold.
A write that lands while the session's task is running schedules a new run (Docket lets the
running one finish as superseded), so nothing written during a run waits for another write.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType

from docket import Docket

from remem.memory.summary_views import Scope
from remem.store.connection import backend_errors
from remem.store.keys import Keys
from remem.store.working import Session
from remem.tasks import jobs

MEMO_SIZE = 1 << 16  # sessions whose scheduled extraction a process remembers
KINDS = ("promote", "extract", "summarize")  # one task key per session for each
CANCELS_AT_ONCE = 32  # Docket cancels in flight while forgetting sessions


def docket_name(keys: Keys) -> str:
    return f"{keys.prefix}tasks"


class TaskQueue:
    """``async with TaskQueue(url, keys, debounce) as queue:`` then ``await queue.promote(s)``."""

    def __init__(self, url: str, keys: Keys, debounce_seconds: float) -> None:
        self.keys = keys
        self.debounce = timedelta(seconds=debounce_seconds)
        self.docket = Docket(name=docket_name(keys), url=url)
        # Extraction task key -> when the run this process scheduled is due (monotonic).
        self._due: OrderedDict[str, float] = OrderedDict()
        for task in jobs.TASKS:
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

    def _task_key(self, kind: str, session: Session) -> str:
        return f"{kind}:{self.keys.working_memory(*session)}"

    async def promote(self, session: Session) -> None:
        """Promote the session's unpersisted memories now (coalescing repeats)."""
        await self._schedule(jobs.promote_memories, "promote", session, timedelta(0))

    async def extract(self, session: Session) -> None:
        """Extract the session's new messages after the debounce. A session this process
        scheduled less than a debounce ago is not scheduled again: that run is still ahead and
        will read this write's messages (and a run that finds messages arrived during it
        schedules the next, ``jobs.extract_memories``). Scheduling costs pydocket 250-350 us
        of CPU, which on every PUT halved the working-memory PUTs a process serves (3,400 ->
        1,500/s at concurrency 16); per session it now costs that once per debounce."""
        key = self._task_key("extract", session)
        now = time.monotonic()
        if self._due.get(key, 0.0) > now:
            return
        await self.extract_again(session)
        self._due[key] = now + self.debounce.total_seconds()
        self._due.move_to_end(key)
        while len(self._due) > MEMO_SIZE:
            self._due.popitem(last=False)

    async def extract_again(self, session: Session) -> None:
        """Schedule the session's extraction after the debounce, whatever was scheduled."""
        await self._schedule(jobs.extract_memories, "extract", session, self.debounce)

    async def summarize(self, session: Session, window: int) -> None:
        """Summarise the session for a ``window``-token model once it has been quiet for the
        debounce (its messages passed the threshold); a burst of turns makes one run."""
        await self._schedule(
            jobs.summarize_working_memory, "summarize", session, self.debounce, window
        )

    async def refresh_view(self, view_id: str, task_id: str, scope: Scope) -> None:
        """Run a summary view in full now, under the task's id (a repeat is coalesced)."""
        schedule = self.docket.add(jobs.refresh_summary_view, key=f"view:{task_id}")
        with backend_errors():
            await schedule(view_id, task_id, scope.namespace, scope.user_id)

    async def _schedule(
        self, task: jobs.Task, kind: str, session: Session, delay: timedelta, *extra: int
    ) -> None:
        """Redis gone: BackendUnavailable (503, retry). The write before it is stored; the
        client's retry of that idempotent write schedules the task."""
        when = datetime.now(UTC) + delay
        schedule = self.docket.replace(task, when=when, key=self._task_key(kind, session))
        with backend_errors():
            await schedule(session.session_id, session.user_id, session.namespace, *extra)

    async def written(self, session: Session, *, messages: bool, memories: bool) -> None:
        """A write left the session with messages to extract and/or memories to promote."""
        if memories:
            await self.promote(session)
        if messages:
            await self.extract(session)

    async def forget_sessions(self, sessions: Sequence[Session]) -> int:
        """Drop every task of these sessions (erased: nothing of them may run later): pending
        ones are cancelled, a running one is signalled to stop (Docket's cancel, best effort),
        and the run records Docket keeps for 15 minutes (``runs:<task key>``, which hold the
        session's ids) are unlinked. Also forgets this process's memo of their scheduled
        extraction, so a later write to a session of the same name schedules afresh. Returns
        how many tasks had a record (scheduled, running or run within the last 15 minutes).

        Other processes keep their memo: it only stops them scheduling an extraction again
        within one debounce of their last, and that extraction is cancelled here, so a write
        they take for a recreated session within that window is extracted from the next write
        after it."""
        task_keys = [self._task_key(kind, s) for s in sessions for kind in KINDS]
        for key in task_keys:
            self._due.pop(key, None)
        records = 0
        with backend_errors():
            for start in range(0, len(task_keys), CANCELS_AT_ONCE):
                chunk = task_keys[start : start + CANCELS_AT_ONCE]
                async with self.docket.redis() as redis:
                    found = await redis.exists(*(self.docket.runs_key(k) for k in chunk))
                await asyncio.gather(*(self.docket.cancel(k) for k in chunk))
                async with self.docket.redis() as redis:
                    await redis.delete(*(self.docket.runs_key(k) for k in chunk))
                records += int(found)
        return records
