"""What the memory layer counts for ``/metrics``: searches by mode (time and results) and
writes by outcome; and, with traces on (``remem.tracing``), its spans: ``memory.search`` (mode,
limit, results; the query text only with ``REMEM_TRACE_CONTENT``) and ``memory.create`` (records
asked, outcomes)."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from remem import tracing
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
    """Time each search by its mode and count what it returned (in a span, traces on)."""

    async def timed(
        self: S, request: SearchRequest, /, *args: P.args, **kwargs: P.kwargs
    ) -> MemoryRecordResults:
        started = time.perf_counter()
        try:
            results = await search(self, request, *args, **kwargs)
        finally:
            TIMES[request.search_mode].observe(time.perf_counter() - started)
        SIZES[request.search_mode].observe(len(results.memories))
        return results

    @functools.wraps(search)
    async def timed_search(
        self: S, request: SearchRequest, /, *args: P.args, **kwargs: P.kwargs
    ) -> MemoryRecordResults:
        if not tracing.on():
            return await timed(self, request, *args, **kwargs)
        asked: dict[str, str | int] = {"remem.search.mode": request.search_mode}
        asked["remem.search.limit"] = request.limit
        if tracing.content():
            asked["remem.search.query"] = request.text
        with tracing.TRACER.start_as_current_span("memory.search", attributes=asked) as span:
            results = await timed(self, request, *args, **kwargs)
            span.set_attribute("remem.search.results", len(results.memories))
        return results

    return timed_search


def created(
    create: Callable[Concatenate[S, Sequence[Any], P], Coroutine[Any, Any, list[Any]]],
) -> Callable[Concatenate[S, Sequence[Any], P], Coroutine[Any, Any, list[Any]]]:
    """A create in a ``memory.create`` span (traces on): records asked, and each outcome's
    count (``remem.memory.<outcome>``: added, updated, merged)."""

    @functools.wraps(create)
    async def traced_create(
        self: S, records: Sequence[Any], /, *args: P.args, **kwargs: P.kwargs
    ) -> list[Any]:
        if not tracing.on():
            return await create(self, records, *args, **kwargs)
        asked = {"remem.memory.count": len(records)}
        with tracing.TRACER.start_as_current_span("memory.create", attributes=asked) as span:
            out = await create(self, records, *args, **kwargs)
            for outcome, n in Counter(OUTCOMES[c.status] for c in out).items():
                span.set_attribute(f"remem.memory.{outcome}", n)
        return out

    return traced_create


def count_writes(outcomes: Iterable[Any]) -> None:
    """Count a create's outcomes (``memory.create_plan.Created``): added, updated, merged, and
    besides, the ones that superseded older versions or were kept beside similar ones."""
    for created in outcomes:
        WRITES.labels(OUTCOMES[created.status]).inc()
        if created.supersedes:
            WRITES.labels("superseding").inc()
        if created.similar:
            WRITES.labels("distinct").inc()
