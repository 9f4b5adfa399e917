"""The poller: each worker turns due work (``store.due``) into Docket tasks.

Why not schedule in the request: a pydocket schedule costs about 230 us of CPU, which took
working-memory PUTs of new sessions at concurrency 16 from 3,139-3,417/s down to
1,242-1,528/s. Now the write marks the session due inside its own script and the request pays
a ZADD: a PUT of a new session costs 278-329 us of app CPU instead of 507-611, and 51-70 us of
Redis instead of 112-119 (bench/cpu_per_request.py, kind "PUT new wm"). The scheduling moves
here, batched (one pipelined ``replace_many`` per claim), at about 60-70 us of worker CPU a
session.

Every ``task_poll_seconds`` a worker claims up to ``BATCH`` members due now (leased for the
task redelivery timeout, so a worker that dies mid-claim leaves them to another), schedules
them, and settles them: session work leaves the set unless it was marked again meanwhile;
periodic work is re-armed one interval ahead. A full batch is followed by the next at once.

The due set is the backlog; Docket holds only what the workers can start soon. A poll claims no
more than ``ahead`` less the tasks already queued (waiting or running, every worker's), so
under a load extraction cannot keep up with, the scheduling of thousands of tasks does not
compete with the requests that are writing them: work is scheduled as fast as it is done.
Unthrottled, 20 s of unpaced writes at concurrency 16 had the poller schedule 16,000 tasks
(7% of the server's CPU and half of Redis's per message) while 1% of them ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from remem.store.due import DueSet
from remem.tasks import jobs
from remem.tasks.queue import PERIODIC, TaskQueue

log = logging.getLogger(__name__)

BATCH = 500  # members claimed at once: one Lua call and two pipelines of docket schedules


class Poller:
    """``await Poller(queue, due, ...).run()`` until cancelled. ``periodic``: name -> seconds
    between runs, for the periodic work this worker arms (``jobs.PERIODIC``)."""

    def __init__(
        self,
        queue: TaskQueue,
        due: DueSet,
        *,
        every_seconds: float,
        lease_seconds: float,
        periodic: Mapping[str, float],
        ahead: int = BATCH,
    ) -> None:
        self.queue = queue
        self.due = due
        self.every = every_seconds
        self.lease = lease_seconds
        self.ahead = ahead
        self.periodic = {f"{PERIODIC}:{name}": s for name, s in periodic.items() if s > 0}
        self._stop = asyncio.Event()

    async def run(self) -> None:
        armed = False
        while not self._stop.is_set():
            try:
                if not armed:
                    await self._arm()
                    armed = True
                taken = await self.poll()
            except Exception:  # Redis away, a bug: log, keep polling (claims stay leased)
                log.exception("polling due work failed")
                taken = 0
            if taken < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.every)

    async def _arm(self) -> None:
        """The periodic work's first run is one interval after the first worker started (NX:
        a worker joining later does not move it); periodic work switched off is taken out of
        the set. The workers sharing a Redis are meant to agree on these settings."""
        for name in jobs.PERIODIC:
            member = f"{PERIODIC}:{name}"
            if member in self.periodic:
                await self.due.seed(member, self.periodic[member])
            else:
                await self.due.remove(member)

    def stop(self) -> None:
        """End ``run`` after the poll under way, if any. (Not ``Task.cancel``: a cancellation
        landing in a Redis call can come out of redis-py as a timeout, which the loop would
        take for a failed poll and carry on, as a test's teardown found.)"""
        self._stop.set()

    async def poll(self) -> int:
        """Claim, schedule and settle what is due now, as much as there is room for in the
        queue; how many members were claimed."""
        room = min(BATCH, self.ahead - await self.queue.queued())
        if room <= 0:
            return 0
        claim = await self.due.claim(room, self.lease)
        if not claim.members:
            return 0
        periodic = f"{PERIODIC}:"
        armed = [m for m in claim.members if not m.startswith(periodic) or m in self.periodic]
        await self.queue.schedule_due(armed)
        # Session work leaves the set (None); periodic work is due again an interval from now,
        # and periodic work this worker has switched off leaves the set unscheduled.
        await self.due.done(claim, [self.periodic.get(m) for m in claim.members])
        return len(claim.members)
