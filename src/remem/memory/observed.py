"""What the memory layer counts for ``/metrics``: searches by mode (time and results) and
writes by outcome."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

from remem.metrics import SEARCH_RESULTS, SEARCHES, WRITES
from remem.models.search import MemoryRecordResults, SearchRequest

P = ParamSpec("P")
S = TypeVar("S")

MODES = ("semantic", "keyword", "hybrid")  # models.search.SearchRequest.search_mode
TIMES = {mode: SEARCHES.labels(mode) for mode in MODES}  # labels() once, not per search
SIZES = {mode: SEARCH_RESULTS.labels(mode) for mode in MODES}
# A create's statuses (memory.create_plan.Status) as the metric's outcomes.
OUTCOMES = {"created": "added", "updated": "updated", "duplicate": "merged", "merged": "merged"}


def searched(
    search: Callable[Concatenate[S, SearchRequest, P], Coroutine[Any, Any, MemoryRecordResults]],
) -> Callable[Concatenate[S, SearchRequest, P], Coroutine[Any, Any, MemoryRecordResults]]:
    """Time each search by its mode and count what it returned."""

    @functools.wraps(search)
    async def timed_search(
        self: S, request: SearchRequest, /, *args: P.args, **kwargs: P.kwargs
    ) -> MemoryRecordResults:
        started = time.perf_counter()
        try:
            results = await search(self, request, *args, **kwargs)
        finally:
            TIMES[request.search_mode].observe(time.perf_counter() - started)
        SIZES[request.search_mode].observe(len(results.memories))
        return results

    return timed_search


def count_writes(outcomes: Iterable[Any]) -> None:
    """Count a create's outcomes (``memory.create_plan.Created``): added, updated, merged, and
    besides, the ones that superseded older versions or were kept beside similar ones."""
    for created in outcomes:
        WRITES.labels(OUTCOMES[created.status]).inc()
        if created.supersedes:
            WRITES.labels("superseding").inc()
        if created.similar:
            WRITES.labels("distinct").inc()
