"""Periodic work: compaction and forgetting on a schedule, off by default, one run at a time
across all the workers sharing a Redis, each run's counts in the log."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from pydantic import ValidationError

from remem.background.summary_views import Scope
from remem.config import Settings
from remem.models.search import NewMemoryRecord
from remem.models.views import CreateSummaryViewRequest
from remem.runtime import Resources
from remem.store.keys import Keys
from tests.helpers import wait_until
from tests.llm_server import Answer, Call, llm_server

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


async def test_compaction_and_forgetting_are_off_by_default(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """With the default settings no worker compacts or forgets; the one periodic work due is
    the continuous summary views' refresh, an hour after the first worker started."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    async with workers(quick, 2) as (res, _):
        await res.long_term.create([NewMemoryRecord(id="old", text="an old fact")])
        await asyncio.sleep(1.0)
        due = await res.redis.zrange(Keys(quick.key_prefix).tasks_due, 0, -1, withscores=True)
        assert await res.long_term.count() == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("periodic")]
    periodic = [(m, at) for m, at in due if "periodic" in str(m)]
    assert [m for m, _ in periodic] == ["periodic:views"]
    assert periodic[0][1] > time.time() + 3500


async def test_continuous_summary_views_are_refreshed_on_schedule(
    quick: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A continuous view is summarised again every interval, a partition that appeared since
    included; a view without ``continuous`` is left to its runs."""
    caplog.set_level(logging.INFO, logger="remem.tasks.jobs")
    settings = quick.model_copy(update={"summary_view_refresh_seconds": INTERVAL})
    by_user = {"source": "long_term", "group_by": ["user_id"]}
    async with workers(settings, 2) as (res, _):
        views = res.summary_views
        await res.long_term.create(
            [NewMemoryRecord(id=f"{u}-1", text=f"{u} likes tea", user_id=u) for u in ("ada", "bo")]
        )
        kept = await views.create(CreateSummaryViewRequest(**by_user, continuous=True))
        alone = await views.create(CreateSummaryViewRequest(**by_user))

        def partitions(n: int) -> Callable[[], Awaitable[bool]]:
            async def reached() -> bool:
                return len(await views.list_partitions(kept.id)) == n

            return reached

        await wait_until(partitions(2), timeout=10)
        await res.long_term.create(
            [NewMemoryRecord(id="cy-1", text="cy plays chess", user_id="cy")]
        )
        await wait_until(partitions(3), timeout=10)
        summary = {p.group["user_id"]: p for p in await views.list_partitions(kept.id)}
        assert "chess" in summary["cy"].summary and summary["cy"].memory_count == 1
        assert await views.list_partitions(alone.id) == []
    messages = [r.getMessage() for r in _runs(caplog, "summary views")]
    assert "periodic summary views: 1 refreshed, 3 partitions summarised" in messages, messages


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


async def test_a_tenant_s_summaries_of_a_continuous_view_are_refreshed_too(quick: Settings) -> None:
    """A view a tenant ran within its namespace has summaries in that scope: the periodic run
    refreshes them there (a memory written since is summarised), as well as the whole store's."""
    settings = quick.model_copy(update={"summary_view_refresh_seconds": INTERVAL})
    async with workers(settings, 1) as (res,):
        views = res.summary_views
        await res.long_term.create(
            [NewMemoryRecord(id="t1", text="ada likes tea", user_id="ada", namespace="n1"),
             NewMemoryRecord(id="o1", text="eve likes jam", user_id="eve", namespace="n2")]
        )  # fmt: skip
        view = await views.create(
            CreateSummaryViewRequest(source="long_term", group_by=["user_id"], continuous=True)
        )
        tenant = Scope(namespace="n1")
        await views.run_partition(view.id, {"user_id": "ada"}, tenant)
        await res.long_term.create(
            [NewMemoryRecord(id="t2", text="bo plays chess", user_id="bo", namespace="n1")]
        )

        async def refreshed() -> bool:
            mine = await views.list_partitions(view.id, scope=tenant)
            return sorted(p.group["user_id"] for p in mine) == ["ada", "bo"]

        await wait_until(refreshed, timeout=10)
        everyone = await views.list_partitions(view.id)
        assert sorted(p.group["user_id"] for p in everyone) == ["ada", "bo", "eve"]
        mine = await views.list_partitions(view.id, scope=tenant)
        assert all("eve" not in p.summary for p in mine)  # nothing from outside the scope


async def test_a_continuous_view_that_fails_is_listed_and_the_others_refreshed(
    quick: Settings,
) -> None:
    """Two continuous views, one with the LLM down for its calls: the other view is
    summarised, and the periodic run is in remem's list of failed runs, saying which view."""
    async with llm_server() as llm:

        def answer(call: Call) -> Answer:
            if "FAILING" in json.dumps(call.body):
                return Answer.error(500, message="scripted outage")
            return Answer.json({"summary": "a summary"})

        llm.respond = answer
        settings = quick.model_copy(
            update={
                "llm_base_url": llm.base_url, "llm_model": "m", "llm_max_retries": 0,
                "summary_view_refresh_seconds": INTERVAL,
            }
        )  # fmt: skip
        async with workers(settings, 1) as (res,):
            await res.long_term.create(
                [NewMemoryRecord(id="m1", text="likes tea", user_id="ada")], deduplicate=False
            )
            views = res.summary_views
            good = await views.create(
                CreateSummaryViewRequest(source="long_term", group_by=["user_id"],
                                         continuous=True)
            )  # fmt: skip
            bad = await views.create(
                CreateSummaryViewRequest(source="long_term", group_by=["user_id"],
                                         continuous=True, prompt="FAILING")
            )  # fmt: skip

            async def listed() -> bool:
                return bool(await res.tasks.failures.recent(5))

            await wait_until(listed, timeout=15)
            (run, *_) = await res.tasks.failures.recent(5)
            assert run["task"] == "refresh_continuous_views" and run["final"] == "1", run
            assert run["error"].startswith("ContinuousRefreshFailed") and bad.id in run["error"]
            (part,) = await views.list_partitions(good.id)
            assert part.summary == "a summary"
            assert await views.list_partitions(bad.id) == []


def test_the_upstream_refresh_interval_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """An AMS deployment's SUMMARY_VIEW_REFRESH_EVERY_MINUTES keeps its interval; remem's own
    setting, when also set, wins."""
    monkeypatch.setenv("SUMMARY_VIEW_REFRESH_EVERY_MINUTES", "15")
    assert Settings().summary_view_refresh_seconds == 900
    monkeypatch.setenv("REMEM_SUMMARY_VIEW_REFRESH_SECONDS", "60")
    assert Settings().summary_view_refresh_seconds == 60
    monkeypatch.setenv("SUMMARY_VIEW_REFRESH_EVERY_MINUTES", "0")
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings()
