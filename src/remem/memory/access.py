"""Access tracking: search hits move ``last_accessed`` and ``access_count`` without one write per
hit per request.

Hits are buffered in the process and flushed every ``interval`` seconds (REMEM_ACCESS_FLUSH_SECONDS,
30 by default, and on ``close``): per memory one Lua call, which does nothing when the memory has
been deleted meanwhile. A write to a memory's document re-indexes it, vector included (about a
millisecond), so the call adds the count to a hash beside the documents (10 us) and moves the
document's ``last_accessed`` only when it is ``resolution`` seconds behind
(REMEM_ACCESS_RESOLUTION_SECONDS, 15 minutes as upstream). A memory hit by a thousand searches
costs at most one document write per resolution. The price: ``access_count`` is up to one
interval behind, ``last_accessed`` up to one resolution, and a process that dies without closing
loses its buffered hits.

A hit is kept with the namespace of the memory the search found: on a Redis Cluster that names
its key (``mem:{<ns>}:<id>``), so the flush writes the copy that was found, without looking the
id up on every primary, and an id two namespaces hold counts where it was hit. On a single
Redis an id is one memory and the namespace is not needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from remem.store.longterm import LongTermStore

log = logging.getLogger(__name__)


Place = tuple[str, str | None]  # a memory hit: its id and its namespace
Hits = dict[str, tuple[int, float]]  # id -> (count, latest time)


def rounds(batch: dict[Place, tuple[int, float]]) -> list[tuple[Hits, dict[str, str | None]]]:
    """The hits of ``batch`` by id with each id's namespace, in as few rounds as an id held in
    several namespaces needs (one, unless such an id was hit in two of them)."""
    out: list[tuple[Hits, dict[str, str | None]]] = []
    for (memory_id, namespace), hit in batch.items():
        free = next((r for r in out if memory_id not in r[0]), None)
        if free is None:
            free = ({}, {})
            out.append(free)
        free[0][memory_id], free[1][memory_id] = hit, namespace
    return out


class AccessTracker:
    def __init__(self, store: LongTermStore, *, interval: float, resolution: float) -> None:
        self.store = store
        self.interval = interval
        self.resolution = resolution
        self._pending: dict[Place, tuple[int, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def record(self, hits: Iterable[Place], when: float) -> None:
        """Count one access of each memory, an (id, namespace), at ``when`` (epoch seconds)."""
        for place in hits:
            count, last = self._pending.get(place, (0, when))
            self._pending[place] = (count + 1, max(last, when))

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write the buffered accesses now (kept for the next flush if Redis fails)."""
        batch, self._pending = self._pending, {}
        try:
            for hits, namespaces in rounds(batch):
                await self.store.documents.touch_many(
                    hits, resolution=self.resolution, namespaces=namespaces
                )
        except BaseException:
            for place, (count, when) in batch.items():
                c, w = self._pending.get(place, (0, when))
                self._pending[place] = (c + count, max(w, when))
            raise

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="remem-access-flush")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            if self._stop.is_set():
                return
            try:
                await self.flush()
            except Exception:  # keep the buffer and try again next time
                log.warning("could not write memory access counts", exc_info=True)

    async def close(self) -> None:
        """Stop the periodic flush and write what is buffered (logged and dropped when Redis
        does not answer: closing never fails).

        The flush task is asked to stop, not cancelled: a cancellation landing inside a Redis
        pipeline could be absorbed there (the tests saw ``close`` wait forever, about one run in
        six), and a flush under way is better finished than abandoned.
        """
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:  # Redis down at shutdown: the hits are lost, as a process's that dies
            log.warning(
                "could not write %d memory access counts at close", self.pending, exc_info=True
            )
