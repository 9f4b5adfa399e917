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
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from docket import Worker

from remem.tasks import jobs
from remem.tasks.poller import Poller

if TYPE_CHECKING:
    from remem.config import Settings
    from remem.runtime import Resources

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running_worker(res: Resources) -> AsyncIterator[Worker]:
    """A worker taking this process's Docket tasks until the block ends."""
    settings = res.settings
    jobs.bind(res.tasks.name, res.lifecycle)
    try:
        async with Worker(
            res.tasks.docket,
            concurrency=settings.worker_concurrency,
            redelivery_timeout=timedelta(seconds=settings.task_redelivery_seconds),
            schedule_automatic_tasks=False,
        ) as worker:
            poller = Poller(
                res.tasks,
                res.working.store.due,
                every_seconds=settings.task_poll_seconds,
                lease_seconds=settings.task_redelivery_seconds,
                periodic={
                    "compact": settings.compaction_interval_seconds,
                    "forget": settings.forgetting_interval_seconds,
                },
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
        jobs.unbind(res.tasks.name)


async def run_worker(settings: Settings) -> None:
    """``remem worker``: run tasks until SIGINT or SIGTERM."""
    from remem.runtime import Resources

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Resources(settings) as res, running_worker(res):
        log.info("remem worker: running tasks of %s", res.tasks.name)
        await stop.wait()
