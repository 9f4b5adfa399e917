"""Micro-batching for CPU models: concurrent calls share one model run.

Sixteen searches arriving together should cost about one forward pass, not sixteen. Callers put
their texts in a queue and await a future; one drain task (alive only while there is work) takes
up to ``max_batch`` texts from the queue, runs the model on them in a dedicated single thread (so
the event loop never runs inference and runs never overlap), and hands every caller its rows.
Calls made in the same loop iteration share the first run; calls arriving during a run (a few
milliseconds) share the next one. ``wait_seconds`` can also hold an idle model back for
companions, but on a 2-core machine a 2 ms wait added 2-4 ms to a lone query's latency and
saved no runs for 16 searches arriving over 3 ms, so it is off by default.

A request larger than ``max_batch`` is sorted by length first, so its runs hold texts of similar
length and little padding.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from remem.embeddings.base import EmbeddingUnavailable, Vectors
from remem.errors import RememError

T = TypeVar("T")


@dataclass(eq=False)
class _Request:
    texts: list[str]  # sorted by length
    order: NDArray[np.intp]  # order[k] is the caller's position of texts[k]
    rows: Vectors
    future: asyncio.Future[Vectors]
    taken: int = 0  # texts handed to a run
    filled: int = 0  # rows written back


class MicroBatcher:
    """Runs ``model(texts) -> vectors`` for many concurrent callers in shared batches."""

    def __init__(
        self,
        model: Callable[[list[str]], Vectors],
        *,
        dimensions: int,
        max_batch: int = 64,
        wait_seconds: float = 0.0,
        thread_name: str = "remem-embed",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._model = model
        self._dimensions = dimensions
        self._max_batch = max_batch
        self._wait = wait_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._pending: deque[_Request] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.batches = 0
        """Batches handed to the model so far (each up to ``max_batch`` texts)."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if self._closed:
            raise EmbeddingUnavailable("the embedder has been closed")
        if not texts:
            return np.zeros((0, self._dimensions), dtype=np.float32)
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new loop (asyncio.run twice in a CLI)
            self._loop, self._pending, self._drainer = loop, deque(), None
        order = np.argsort(np.fromiter((len(t) for t in texts), dtype=np.intp), kind="stable")
        request = _Request(
            texts=[texts[i] for i in order],
            order=order,
            rows=np.empty((len(texts), self._dimensions), dtype=np.float32),
            future=loop.create_future(),
        )
        self._pending.append(request)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain(), name="remem-embed-batcher")
        return await request.future

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the model thread (loading, warming up), after the runs before it."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def aclose(self) -> None:
        """Finish the queued requests, refuse new ones, stop the thread."""
        self._closed = True
        drainer = self._drainer
        if drainer is not None and not drainer.done():
            with contextlib.suppress(Exception):
                await drainer
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _drain(self) -> None:
        try:
            if self._queued() < self._max_batch:
                # The model was idle: let callers already scheduled in this loop iteration (or
                # within ``wait_seconds``) join the first run.
                await asyncio.sleep(self._wait)
            while self._pending:
                await self._run_once()
        except BaseException as exc:  # cancelled or a bug: nobody may wait forever
            error = EmbeddingUnavailable(f"local embedding stopped: {exc!r}")
            while self._pending:
                self._fail(self._pending.popleft(), error)
            raise

    async def _run_once(self) -> None:
        texts: list[str] = []
        parts: list[tuple[_Request, int, int]] = []
        while self._pending and len(texts) < self._max_batch:
            request = self._pending[0]
            if request.future.done():  # the caller was cancelled
                self._pending.popleft()
                continue
            start = request.taken
            end = min(len(request.texts), start + self._max_batch - len(texts))
            texts.extend(request.texts[start:end])
            parts.append((request, start, end))
            request.taken = end
            if end == len(request.texts):
                self._pending.popleft()
        if not texts:
            return
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._model, texts
            )
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, RememError)
                else EmbeddingUnavailable(f"local embedding failed: {exc}")
            )
            for request, _, _ in parts:
                self._fail(request, error)
            return
        finally:
            self.batches += 1
        offset = 0
        for request, start, end in parts:
            request.rows[start:end] = vectors[offset : offset + end - start]
            offset += end - start
            request.filled += end - start
            if request.filled == len(request.texts) and not request.future.done():
                result = np.empty_like(request.rows)
                result[request.order] = request.rows
                request.future.set_result(result)

    def _queued(self) -> int:
        return sum(len(r.texts) - r.taken for r in self._pending)

    def _fail(self, request: _Request, error: BaseException) -> None:
        if request in self._pending:
            self._pending.remove(request)
        if not request.future.done():
            request.future.set_exception(error)
