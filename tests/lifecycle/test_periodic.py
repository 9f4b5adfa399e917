"""Periodic work: compaction and forgetting on a schedule, off by default, one run at a time
across all the workers sharing a Redis, each run's counts in the log."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from remem.config import Settings
from remem.models.search import NewMemoryRecord
from remem.runtime import Resources
from remem.store.keys import Keys
from tests.helpers import wait_until

INTERVAL = 0.4


@contextlib.asynccontextmanager
async def workers(settings: Settings, count: int) -> AsyncIterator[list[Resources]]:
    """``count`` workers, each with its own Resources (Redis pools, Docket, poller), as
    ``count`` worker processes would be."""
    async with contextlib.AsyncExitStack() as stack:
        found = []
        for _ in range(count):
            res = await stack.enter_async_context(Resources(settings))
            await stack.enter_async_context(res.worker())
            found.append(res)
        yield found


def _runs(caplog: pytest.LogCaptureFixture, what: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(f"periodic {what}")]


async def test_two_workers_compact_once_an_interval(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers with compaction every 0.4 s: over 2.4 s about six runs (not twelve), never
    two within half an interval, each logging its counts."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    settings = quick.model_copy(update={"compaction_interval_seconds": INTERVAL})
    async with workers(settings, 2) as (res, _):
        await res.long_term.create(
            [NewMemoryRecord(id=f"m{i}", text=f"fact number {i}") for i in range(3)]
        )
        await asyncio.sleep(6 * INTERVAL)
    runs = _runs(caplog, "compaction")
    assert 2 <= len(runs) <= 7, [r.getMessage() for r in runs]
    gaps = [b.created - a.created for a, b in itertools.pairwise(runs)]
    assert min(gaps) >= INTERVAL / 2, gaps
    assert runs[-1].getMessage() == "periodic compaction: 3 memories before, 3 after"


async def test_periodic_work_is_off_by_default(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """With the default settings no worker compacts or forgets, and nothing periodic is due."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    async with workers(quick, 2) as (res, _):
        await res.long_term.create([NewMemoryRecord(id="old", text="an old fact")])
        await asyncio.sleep(1.0)
        due = await res.redis.zrange(Keys(quick.key_prefix).tasks_due, 0, -1)
        assert await res.long_term.count() == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("periodic")]
    assert not [m for m in due if "periodic" in str(m)]


async def test_forgetting_applies_the_policy_on_schedule(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A budget of one: the periodic run deletes all but the most recently accessed unpinned
    memory, keeps the pinned one, and logs what it scanned and deleted."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    settings = quick.model_copy(
        update={"forgetting_interval_seconds": INTERVAL, "forgetting_budget": 1}
    )
    async with workers(settings, 1) as (res,):
        records = [NewMemoryRecord(id=f"m{i}", text=f"fact number {i}") for i in range(3)]
        records.append(NewMemoryRecord(id="pin", text="a pinned fact", pinned=True))
        await res.long_term.create(records)
        started = time.monotonic()

        async def forgotten() -> bool:
            return await res.long_term.count() == 2

        await wait_until(forgotten, timeout=10)
        assert time.monotonic() - started >= INTERVAL / 2  # not before the first interval
        assert (await res.long_term.get("pin")).pinned
    assert _runs(caplog, "forgetting")[0].getMessage() == (
        "periodic forgetting: 4 memories scanned, 2 deleted"
    )


def test_forgetting_without_a_policy_is_refused() -> None:
    """An interval with no policy to apply is a configuration error, said at start-up."""
    with pytest.raises(ValidationError, match="REMEM_FORGETTING_MAX_AGE_DAYS"):
        Settings(forgetting_interval_seconds=60)
