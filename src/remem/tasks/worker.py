"""Running tasks: inside ``remem serve`` (the default, so one machine needs one command) or as
``remem worker`` processes, several of which may share one Redis with the servers.

Docket hands each task to one worker through a Redis stream consumer group. A worker renews
its claim on a running task four times per ``task_redelivery_seconds``; when it dies (killed,
machine lost) the claim lapses and another worker takes the task after that long. Each
worker also polls the due set, turning what writes marked due into tasks (``tasks.poller``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from docket import Worker

from remem.tasks import jobs
from remem.tasks.poller import Poller

if TYPE_CHECKING:
    from remem.config import Settings
    from remem.store.due import DueSet
    from remem.tasks.jobs import Lifecycle
    from remem.tasks.queue import TaskQueue

log = logging.getLogger(__name__)

# How long a worker whose slots are all taken waits before it looks for a free one (Docket's
# ``minimum_check_interval``, also how long its stream read blocks). Docket's 250 ms left each
# slot idle for most of that time once a task ended, capping extraction at about
# concurrency / 0.25 s sessions a second (16 at the default 4: 44 s behind after 20 s of 500
# messages a second); at 50 ms extraction keeps up at concurrency 4, which disturbs requests far
# less than more slots do (bench/background.py, in docs/lifecycle.md). Idle, it costs Redis
# about 0.4 ms of CPU a second more per worker.
CHECK_INTERVAL = timedelta(milliseconds=50)
# Tasks a poll tops the queue up to, per slot of this worker: 128 at the default concurrency,
# over a second of extraction without an LLM, so slots never wait for the next poll while the
# rest of a backlog stays in the due set (``tasks.poller``).
AHEAD_PER_SLOT = 32


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings, tasks: TaskQueue, lifecycle: Lifecycle, due: DueSet
) -> AsyncIterator[Worker]:
    """A worker taking the Docket tasks of ``tasks`` until the block ends, with ``lifecycle``
    doing the work and a poller turning what ``due`` holds into tasks (the composition root,
    ``runtime.Resources.worker``, passes its own)."""
    jobs.bind(tasks.name, lifecycle)
    try:
        async with Worker(
            tasks.docket,
            concurrency=settings.worker_concurrency,
            redelivery_timeout=timedelta(seconds=settings.task_redelivery_seconds),
            schedule_automatic_tasks=False,
            minimum_check_interval=CHECK_INTERVAL,
        ) as worker:
            poller = Poller(
                tasks,
                due,
                every_seconds=settings.task_poll_seconds,
                lease_seconds=settings.task_redelivery_seconds,
                periodic={
                    "compact": settings.compaction_interval_seconds,
                    "forget": settings.forgetting_interval_seconds,
                    "views": settings.summary_view_refresh_seconds,
                },
                ahead=AHEAD_PER_SLOT * settings.worker_concurrency,
            )
            polling = asyncio.create_task(poller.run(), name="remem due-work poller")
            running = asyncio.create_task(worker.run_forever(), name="remem worker")
            try:
                yield worker
            finally:
                poller.stop()
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
                await polling
    finally:
        jobs.unbind(tasks.name)
