"""Requests first: a serving process's background work takes its turn when no request is in
flight.

``remem serve`` runs its tasks on the event loop that answers requests (``tasks.worker``), and
both use the one Redis. Measured (``bench/background.py``: 16 clients writing 500 messages a
second, extraction keeping up), background work run as it came made the p95 of a PUT 3.5 times
that with extraction off. So the app counts the requests in flight (``CountRequests``), and the
heavy part of a background task (extraction's writes: records embedded, compared, stored and
marked) runs inside ``Foreground.turn()``: one task at a time, each starting once no request
has been in flight for ``quiet`` seconds (a turn started the moment the last request ended met
the next ones mid-way), or after ``max_wait`` seconds without such a gap, so a steady stream of
requests slows background work down (to a turn per ``max_wait``) but never stops it. A
``remem worker`` process serves nothing: its turns are neither serialised nor delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_WAIT_SECONDS = 0.1
QUIET_SECONDS = 0.05


class Foreground:
    """The requests this process has in flight, and turns for background work between them."""

    def __init__(
        self, *, serving: bool, max_wait: float = MAX_WAIT_SECONDS, quiet: float = QUIET_SECONDS
    ) -> None:
        self.serving = serving
        self.max_wait = max_wait
        self.quiet = quiet
        self.in_flight = 0
        self._quiet_since = float("-inf")  # when the last request in flight ended
        self._idle = asyncio.Event()
        self._idle.set()
        self._turn = asyncio.Lock()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._quiet_since = time.monotonic()
            self._idle.set()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Background work's turn: alone, and once no request has been in flight for
        ``quiet`` seconds (or after ``max_wait``)."""
        if not self.serving:
            yield
            return
        async with self._turn:
            deadline = time.monotonic() + self.max_wait
            while (left := deadline - time.monotonic()) > 0:
                if self.in_flight:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._idle.wait(), left)
                    continue
                quiet_for = time.monotonic() - self._quiet_since
                if quiet_for >= self.quiet:
                    break
                await asyncio.sleep(min(self.quiet - quiet_for, left))
            yield


class CountRequests:
    """ASGI middleware: every HTTP request is in flight from its start to its answer's end."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app = app
        self.foreground = foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.foreground.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.foreground.leave()
