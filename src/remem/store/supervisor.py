"""Keeps the embedded Redis running for as long as this process uses it.

Four times a second it asks whether the recorded server process lives (a file read and a look
in /proc, 54 us, so 0.02 % of a core; in a worker thread so the event loop never waits on the
disk). When the server is gone,
``EmbeddedRedis.recover`` restarts it from its AOF under the data directory's lock: with several
remem processes on one data directory, one restarts it and the others find it running. The
socket path stays the same, so the connection pools reconnect by themselves; meanwhile requests
answer 503 with ``Retry-After``. Measured on a shared 2-core machine: SIGKILL to serving again
in 0.1-0.6 s with a small AOF (detection up to 0.25 s, start and replay the rest), 2.5 s with
10,000 long-term memories (a 40 MB AOF, 2.4 s of replay). A server that lives but lost its socket
file is stopped and started again too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from remem.errors import RememError
from remem.store.embedded import EmbeddedRedis

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.25
MAX_BACKOFF_SECONDS = 30.0  # between failed restarts (a full disk, a corrupt AOF): log, retry


class Supervisor:
    def __init__(self, embedded: EmbeddedRedis, *, interval: float = CHECK_SECONDS) -> None:
        self.embedded = embedded
        self.interval = interval
        self._stop = asyncio.Event()
        self._abort = threading.Event()  # reaches a restart under way in its thread
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="remem-redis-supervisor")

    async def _run(self) -> None:
        delay = self.interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            try:
                if not await asyncio.to_thread(self.embedded.running):
                    await asyncio.to_thread(self.embedded.recover, self._abort)
                delay = self.interval
            except Exception as exc:
                delay = min(max(delay * 2, 1.0), MAX_BACKOFF_SECONDS)
                log.error(
                    "could not restart the embedded Redis (%s); next try in %.0f s",
                    exc.detail if isinstance(exc, RememError) else repr(exc),
                    delay,
                    exc_info=not isinstance(exc, RememError),  # a traceback only if unforeseen
                )

    async def close(self) -> None:
        """Stop supervising. Asked to stop, not cancelled: a cancelled ``to_thread`` leaves its
        thread running, and a restart under way is better finished (or told to stop waiting
        for a long AOF replay) than abandoned halfway."""
        self._stop.set()
        self._abort.set()
        if self._task is not None:
            await self._task
            self._task = None
