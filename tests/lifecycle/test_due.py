"""The due set: a write marks its session due in its own script and schedules nothing on the
task queue (that cost pydocket about 230 us of CPU a new session); workers claim what is due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.due import DueSet
from remem.store.keys import Keys
from tests.lifecycle.conftest import DEBOUNCE

SCOPE = {"namespace": "ns", "user_id": "u"}


@pytest.fixture
async def api(quick: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Redis]]:
    """The API with no worker (``remem serve --no-worker``): nothing takes what is due."""
    app = create_app(quick.model_copy(update={"run_worker": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http, app.state.resources.redis


async def _now(redis: Redis) -> float:
    seconds, micros = await redis.time()
    return float(seconds) + micros / 1e6


async def test_a_write_marks_its_session_due_and_schedules_nothing(
    api: tuple[httpx.AsyncClient, Redis], quick: Settings
) -> None:
    """A PUT with messages and memories marks the session's extraction due a debounce later
    and its promotion due now, in the due set; an append marks its extraction. Nothing is on
    the task queue: no task key names the sessions."""
    http, redis = api
    body = {
        **SCOPE,
        "messages": [{"role": "user", "content": "I moved to Lisbon"}],
        "memories": [{"id": "m1", "text": "The user lives in Lisbon"}],
    }
    before = await _now(redis)
    assert (await http.put("/v1/working-memory/s1", json=body)).status_code == 200
    appended = {**SCOPE, "messages": [{"role": "user", "content": "and I like it"}]}
    r = await http.post("/v1/working-memory/s2/messages", json=appended)
    assert r.status_code == 200, r.text
    after = await _now(redis)
    keys = Keys(quick.key_prefix)
    due = dict(await redis.zrange(keys.tasks_due, 0, -1, withscores=True))
    s1, s2 = (keys.working_memory(s, "u", "ns") for s in ("s1", "s2"))
    assert set(due) == {f"extract:{s1}", f"promote:{s1}", f"extract:{s2}"}
    assert before + DEBOUNCE <= due[f"extract:{s1}"] <= after + DEBOUNCE
    assert before <= due[f"promote:{s1}"] <= after
    assert before + DEBOUNCE <= due[f"extract:{s2}"] <= after + DEBOUNCE
    queued = [k async for k in redis.scan_iter(match=f"{quick.key_prefix}tasks:*")]
    assert not [k for k in queued if "extract:" in k or "promote:" in k], queued


async def test_each_write_moves_the_mark_later(
    api: tuple[httpx.AsyncClient, Redis], quick: Settings
) -> None:
    """A trailing debounce: the session's one mark moves to a debounce after its last write."""
    http, redis = api
    keys = Keys(quick.key_prefix)
    member = f"extract:{keys.working_memory('s', 'u', 'ns')}"
    scores = []
    for i in range(3):
        body = {**SCOPE, "messages": [{"role": "user", "content": f"turn {i}"}]}
        assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
        scores.append(await redis.zscore(keys.tasks_due, member))
        await asyncio.sleep(0.02)
    assert scores == sorted(scores) and len(set(scores)) == 3
    assert await redis.zcard(keys.tasks_due) == 1


async def test_a_session_marked_again_while_scheduled_keeps_its_mark(resources_due: DueSet) -> None:
    """Claimed, then written again before the claim is settled: the later mark stays (to be
    scheduled after its own debounce); a claimed member not written again leaves the set."""
    due = resources_due
    await due.mark("extract", "a", 0)
    await due.mark("extract", "b", 0)
    claim = await due.claim(10, lease_seconds=30)
    assert sorted(claim.members) == ["extract:a", "extract:b"]
    await due.mark("extract", "a", 5)  # a write while the claim was being scheduled
    marked = await due.score("extract:a")
    assert await due.done(claim, [None, None]) == 1
    assert await due.score("extract:b") is None
    assert await due.score("extract:a") == marked


async def test_concurrent_claims_take_each_member_once(resources_due: DueSet) -> None:
    """Two workers polling at once never both take a member."""
    due = resources_due
    for i in range(60):
        await due.mark("extract", f"s{i}", 0)
    other = DueSet(due.redis, due.keys)
    first, second = await asyncio.gather(due.claim(40, 30), other.claim(40, 30))
    assert not set(first.members) & set(second.members)
    assert len(first.members) + len(second.members) == 60


async def test_a_claim_never_settled_is_claimed_again_after_its_lease(
    resources_due: DueSet,
) -> None:
    """A worker that died between claiming and scheduling leaves the work to the next claim
    after the lease (the task redelivery timeout), not lost and not taken earlier."""
    due = resources_due
    await due.mark("promote", "s", 0)
    assert (await due.claim(10, lease_seconds=0.3)).members == ["promote:s"]
    assert (await due.claim(10, lease_seconds=0.3)).members == []
    await asyncio.sleep(0.35)
    assert (await due.claim(10, lease_seconds=0.3)).members == ["promote:s"]


async def test_periodic_work_is_armed_once_and_re_armed_on_settling(
    resources_due: DueSet,
) -> None:
    """Seeding does not move a member already there; settling a periodic member makes it due
    again an interval later."""
    due = resources_due
    assert await due.seed("periodic:compact", 0)
    assert not await due.seed("periodic:compact", 100)
    claim = await due.claim(10, lease_seconds=30)
    assert claim.members == ["periodic:compact"]
    seconds, micros = await due.redis.time()
    now = float(seconds) + micros / 1e6
    await due.done(claim, [60.0])
    score = await due.score("periodic:compact")
    assert score is not None and now + 59 < score < now + 61


@pytest.fixture
async def resources_due(settings: Settings) -> AsyncIterator[DueSet]:
    redis = Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        yield DueSet(redis, Keys(settings.key_prefix))
    finally:
        await redis.aclose()


async def test_a_poll_schedules_what_is_due_and_drops_what_it_cannot_read(
    resources: Resources, caplog: pytest.LogCaptureFixture
) -> None:
    """One poll hands a due session to the task queue and settles it; members of an unknown
    kind or a malformed one (a newer version's, a hand edit) are logged and dropped instead
    of failing the batch for ever."""
    from remem.tasks.poller import Poller

    key = resources.keys.working_memory("s", "u", "ns")
    due = resources.working.store.due
    await due.mark("extract", key, 0)
    await due.mark("summarize:many", key, 0)
    await due.mark("bogus", "what", 0)
    poller = Poller(resources.tasks, due, every_seconds=1, lease_seconds=30, periodic={})
    assert await poller.poll() == 3
    assert await resources.redis.zcard(resources.keys.tasks_due) == 0
    prefix = f"{resources.keys.prefix}tasks:"
    queued = [k async for k in resources.redis.scan_iter(match=f"{prefix}*extract:{key}")]
    assert queued
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2, dropped


async def test_a_poll_schedules_no_more_than_the_queue_has_room_for(resources: Resources) -> None:
    """The due set is the backlog: a poll tops Docket's queue up to ``ahead`` tasks (waiting or
    running, every worker's) and leaves the rest due, unclaimed, for a later poll."""
    from remem.tasks.poller import Poller

    due = resources.working.store.due
    for n in range(5):
        await due.mark("extract", resources.keys.working_memory(f"s{n}", "u", "ns"), 0)
    poller = Poller(resources.tasks, due, every_seconds=1, lease_seconds=30, periodic={}, ahead=3)
    assert await poller.poll() == 3
    assert await resources.tasks.queued() == 3
    assert await poller.poll() == 0  # full: nothing claimed, nothing leased
    assert await resources.redis.zcard(resources.keys.tasks_due) == 2
    await resources.redis.xtrim(resources.tasks.docket.stream_key, maxlen=0)  # workers took them
    assert await poller.poll() == 2
    assert await resources.tasks.queued() == 2
    assert await resources.redis.zcard(resources.keys.tasks_due) == 0
