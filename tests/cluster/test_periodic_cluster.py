"""Periodic compaction and forgetting run by workers on a Redis Cluster: one run an interval
across two workers (the due set lives on the cluster, ``store.due_cluster``), each run over
the namespaces of every primary, its counts in the log."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from redis.asyncio import Redis

from remem.config import Settings
from remem.errors import MergedAway, NotFound
from remem.models.search import NewMemoryRecord
from remem.models.views import CreateSummaryViewRequest
from remem.runtime import Resources
from tests.cluster.conftest import spread_namespaces
from tests.helpers import wait_until
from tests.lifecycle.test_periodic import INTERVAL, _runs, workers


async def test_two_workers_compact_every_primary_s_namespaces(
    cluster_settings: Settings, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Each namespace (one a primary) holds a fact twice and another once: a periodic run
    merges the copies in every namespace, and leaves the distinct facts and the namespaces
    apart."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    namespaces = await spread_namespaces(redis, per_primary=1)
    settings = cluster_settings.model_copy(update={"compaction_interval_seconds": INTERVAL})
    async with workers(settings, 2) as (res, _):
        records = [
            NewMemoryRecord(id=f"{ns}-{copy}", text=text, namespace=ns)
            for ns in namespaces
            for copy, text in enumerate(["keeps bees", "keeps bees", f"lives in {ns}"])
        ]
        await res.long_term.create(records, deduplicate=False)

        async def compacted() -> bool:
            return await res.long_term.count() == 2 * len(namespaces)

        await wait_until(compacted, timeout=15)
        for ns in namespaces:
            assert (await res.long_term.get(f"{ns}-2")).text == f"lives in {ns}"
            held = [await _held(res, f"{ns}-{copy}") for copy in (0, 1)]
            assert sorted(held) == [False, True], (ns, held)
        await asyncio.sleep(4 * INTERVAL)
    runs = _runs(caplog, "compaction")
    gaps = [b.created - a.created for a, b in itertools.pairwise(runs)]
    assert len(runs) >= 2 and min(gaps) >= INTERVAL / 2, gaps  # one run at a time, not two
    messages = [r.getMessage() for r in runs]
    counts = f"{3 * len(namespaces)} memories before, {2 * len(namespaces)} after"
    assert f"periodic compaction: {counts}" in messages, messages


async def test_forgetting_on_schedule_over_every_primary(
    cluster_settings: Settings, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The budget is the store's: with a budget of one, a periodic run keeps the most recently
    accessed unpinned memory of all the primaries' namespaces, and every pinned one."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    namespaces = await spread_namespaces(redis, per_primary=1)
    settings = cluster_settings.model_copy(
        update={"forgetting_interval_seconds": INTERVAL, "forgetting_budget": 1}
    )
    async with workers(settings, 1) as (res,):
        records = [NewMemoryRecord(id=f"{ns}-fact", text=f"fact of {ns}", namespace=ns)
                   for ns in namespaces]  # fmt: skip
        records += [NewMemoryRecord(id=f"{ns}-pin", text=f"pinned in {ns}", namespace=ns,
                                    pinned=True) for ns in namespaces]  # fmt: skip
        await res.long_term.create(records, deduplicate=False)

        async def forgotten() -> bool:
            return await res.long_term.count() == len(namespaces) + 1

        await wait_until(forgotten, timeout=15)
        for ns in namespaces:
            assert (await res.long_term.get(f"{ns}-pin")).pinned
    messages = [r.getMessage() for r in _runs(caplog, "forgetting")]
    scanned = f"{2 * len(namespaces)} memories scanned, {len(namespaces) - 1} deleted"
    assert f"periodic forgetting: {scanned}" in messages, messages


async def _held(res: Resources, memory_id: str) -> bool:
    try:
        await res.long_term.get(memory_id)
    except (NotFound, MergedAway):
        return False
    return True


async def test_continuous_views_are_refreshed_over_every_primary(
    cluster_settings: Settings, redis: Redis
) -> None:
    """A continuous view grouped by namespace gets a partition for a namespace of each
    primary from the periodic refresh alone."""
    namespaces = await spread_namespaces(redis, per_primary=1)
    settings = cluster_settings.model_copy(update={"summary_view_refresh_seconds": INTERVAL})
    async with workers(settings, 1) as (res,):
        await res.long_term.create(
            [
                NewMemoryRecord(id=f"{ns}-1", text=f"plays chess in {ns}", namespace=ns)
                for ns in namespaces
            ]
        )
        view = await res.summary_views.create(
            CreateSummaryViewRequest(source="long_term", group_by=["namespace"], continuous=True)
        )

        async def summarised() -> bool:
            return len(await res.summary_views.list_partitions(view.id)) == len(namespaces)

        await wait_until(summarised, timeout=15)
        for part in await res.summary_views.list_partitions(view.id):
            assert part.memory_count == 1 and part.group["namespace"] in part.summary
