"""The two listing plans (one plain sorted query for small scopes, count + window for large ones)
give the same pages, ties included, so a scope that crosses the size threshold keeps its order."""

from __future__ import annotations

import json
import random
import time

from remem.runtime import Resources
from remem.store.listing import SortField
from remem.store.working import WorkingMemoryStore

N = 3_000  # deep enough for the window plan's boundary search (pages past _SHALLOW = 2,000)


async def write(
    resources: Resources, namespace: str, sessions: dict[str, tuple[float, float]]
) -> None:
    """Sessions written straight to Redis: id -> (created_at, updated_at)."""
    pipe = resources.redis.pipeline(transaction=False)
    for sid, (created, updated) in sessions.items():
        doc = {
            "session_id": sid,
            "namespace": namespace,
            "user_id": None,
            "created_at": created,
            "updated_at": updated,
            "messages": [],
        }
        key = resources.keys.working_memory(sid, None, namespace)
        pipe.execute_command("JSON.SET", key, "$", json.dumps(doc))
    await pipe.execute()


def store(resources: Resources, plain_below: int) -> WorkingMemoryStore:
    """The store with one threshold for every page (0: the window plan only; huge: plain)."""
    return WorkingMemoryStore(
        resources.redis,
        resources.keys,
        resources.working.store.index,
        plain_below=plain_below,
        plain_deep_below=plain_below,
    )


async def page(
    plan: WorkingMemoryStore, sort: SortField, descending: bool, offset: int, limit: int = 20
) -> tuple[int, list[str]]:
    return await plan.list_sessions(
        namespace="plans",
        user_id=None,
        sort=sort,
        descending=descending,
        offset=offset,
        limit=limit,
    )


async def test_plans_give_identical_pages_with_ties_and_deep_offsets(
    resources: Resources,
) -> None:
    rng = random.Random(11)
    base = time.time() - 100_000
    # 60 distinct created_at values for 3,000 sessions (ties of ~50), updated_at with ties too.
    sessions = {
        f"t{i:04d}": (base + rng.randrange(60) * 100.0, base + rng.randrange(300) * 7.5)
        for i in range(N)
    }
    await write(resources, "plans", sessions)
    plans = {
        "plain": store(resources, plain_below=10**9),
        "window": store(resources, plain_below=0),
        # the threshold on either side of the scope's size
        "auto, just below": store(resources, plain_below=N),
        "auto, just above": store(resources, plain_below=N + 1),
    }
    for sort, column in (("created_at", 0), ("updated_at", 1)):
        for descending in (True, False):
            order = sorted(sessions, key=lambda s: sessions[s][column], reverse=descending)
            for offset in (0, 19, 1_990, 1_999, 2_500, 2_990, 2_999, 3_000):
                pages = {}
                for name, plan in plans.items():
                    for _ in range(2):  # the second listing runs on what the first remembered
                        total, ids = await page(plan, sort, descending, offset)  # type: ignore[arg-type]
                        assert total == N
                        pages[name] = ids
                where = (sort, descending, offset)
                assert len({tuple(ids) for ids in pages.values()}) == 1, (where, pages)
                want = [sessions[s][column] for s in order[offset : offset + 20]]
                assert [sessions[s][column] for s in pages["plain"]] == want, where


async def test_every_page_walk_is_the_same_under_both_plans(resources: Resources) -> None:
    rng = random.Random(5)
    base = time.time() - 50_000
    sessions = {f"w{i:04d}": (base + rng.randrange(40), base) for i in range(N)}
    await write(resources, "plans", sessions)
    for descending in (True, False):
        walks = []
        for plain_below in (0, 10**9):
            plan = store(resources, plain_below)
            walk: list[str] = []
            for offset in range(0, N, 100):
                walk += (await page(plan, "created_at", descending, offset, limit=100))[1]
            assert sorted(walk) == sorted(sessions)
            walks.append(walk)
        assert walks[0] == walks[1], descending


async def search_calls(resources: Resources) -> int:
    stats = await resources.redis.info("commandstats")
    return int(stats.get("cmdstat_FT.SEARCH", {"calls": 0})["calls"])


async def test_a_small_scope_is_listed_with_one_query(resources: Resources) -> None:
    """Once the store has counted a small scope, a page is one FT.SEARCH (page and total)."""
    base = time.time() - 1_000
    sessions = {f"s{i:03d}": (base + i, base + i) for i in range(300)}
    await write(resources, "plans", sessions)
    plan = store(resources, plain_below=1_000)
    await page(plan, "created_at", True, 0)
    before = await search_calls(resources)
    total, ids = await page(plan, "created_at", True, 40)
    # One round trip: the page (and total), and whether any session past its TTL is indexed.
    assert await search_calls(resources) - before == 2
    assert total == 300 and ids == [f"s{i:03d}" for i in range(259, 239, -1)]


async def test_a_scope_that_grows_past_the_threshold_keeps_exact_pages(
    resources: Resources,
) -> None:
    base = time.time() - 10_000
    sessions = {f"g{i:04d}": (base + i * 0.5, base) for i in range(200)}
    await write(resources, "plans", sessions)
    plan = store(resources, plain_below=500)
    assert (await page(plan, "created_at", True, 0))[0] == 200  # remembered: small
    sessions.update({f"g{i:04d}": (base + i * 0.5, base) for i in range(200, 2_600)})
    await write(resources, "plans", sessions)
    order = sorted(sessions, key=lambda s: sessions[s][0], reverse=True)
    for offset in (0, 2_100, 0, 2_100):  # first on the stale size, then on the window plan
        total, ids = await page(plan, "created_at", True, offset)
        assert total == 2_600 and ids == order[offset : offset + 20]


async def test_a_repeated_first_page_reuses_its_window(resources: Resources) -> None:
    """The window plan remembers the width that held the last page, by scope: the expiry
    clause's time, new on every call, must not make every listing search from scratch."""
    rng = random.Random(3)
    base = time.time() - 7 * 86_400
    sessions = {f"r{i:04d}": (base + rng.random() * 7 * 86_400, base) for i in range(N)}
    await write(resources, "plans", sessions)
    plan = store(resources, plain_below=0)
    await page(plan, "created_at", True, 0)  # finds the width (several windows)
    before = await search_calls(resources)
    await page(plan, "created_at", True, 0)
    # The count (with the question on expired sessions, one round trip), then one window.
    assert await search_calls(resources) - before == 3


async def test_a_session_past_its_ttl_but_not_reclaimed_is_never_listed(
    resources: Resources,
) -> None:
    """Redis reclaims expired keys late; a document whose ``expires_at`` has passed while its
    key lives on (written here without a key expiry) is left out of pages and totals by both
    plans, while the sessions with a TTL still running are listed."""
    now = time.time()
    sessions = {f"x{i:04d}": (now - 5_000 + i, now - 5_000 + i) for i in range(N)}
    await write(resources, "plans", sessions)
    pipe = resources.redis.pipeline(transaction=False)
    for sid, expires in (("x0001", now - 30), ("x2999", now - 0.5), ("x2998", now + 3_600)):
        key = resources.keys.working_memory(sid, None, "plans")
        pipe.execute_command("JSON.SET", key, "$.expires_at", json.dumps(expires))
    await pipe.execute()
    order = [s for s in sorted(sessions, reverse=True) if s not in ("x0001", "x2999")]
    for plain_below in (0, 10**9):
        plan = store(resources, plain_below)
        for descending in (True, False):
            want = order if descending else order[::-1]
            for offset in (0, 2_500, N - 22):
                for _ in range(2):  # the second on what the first remembered
                    total, ids = await page(plan, "created_at", descending, offset)
                    assert total == N - 2
                    assert ids == want[offset : offset + 20], (plain_below, descending, offset)


async def test_an_offset_past_the_end_of_a_small_scope_is_an_empty_page(
    resources: Resources,
) -> None:
    """The plain plan must not send an offset the engine refuses (over MAXSEARCHRESULTS)."""
    base = time.time() - 1_000
    await write(resources, "plans", {f"e{i}": (base + i, base + i) for i in range(30)})
    plan = store(resources, plain_below=1_000)
    assert (await page(plan, "created_at", True, 0))[0] == 30  # remembered: small
    for offset in (30, 1_000_000, 10**15):
        for descending in (True, False):
            assert await page(plan, "created_at", descending, offset) == (30, [])


async def test_a_first_page_after_a_quiet_spell_is_one_round_trip(resources: Resources) -> None:
    """Sessions written in a burst an hour ago: once listed, a first page is the expiry
    question, the count and one window, sent together, whatever the gap between the newest
    session and the present (before: windows grown from the present, 5 queries a page)."""
    rng = random.Random(9)
    base = time.time() - 3_600
    sessions = {f"b{i:04d}": (base + rng.random() * 10, base) for i in range(N)}
    await write(resources, "plans", sessions)
    order = sorted(sessions, key=lambda s: sessions[s][0], reverse=True)
    plan = store(resources, plain_below=0)
    await page(plan, "created_at", True, 0)  # counts the scope, then finds the window
    for offset in (0, 0, 40, 40, 480):
        before = await search_calls(resources)
        total, ids = await page(plan, "created_at", True, offset)
        assert total == N and ids == order[offset : offset + 20], offset
    assert await search_calls(resources) - before == 3


async def test_a_top_page_stays_exact_when_its_window_is_emptied(resources: Resources) -> None:
    """The remembered window start is only a starting point: with the newest sessions deleted,
    or many newer ones written, the page and the total are still exact."""
    base = time.time() - 5_000
    sessions = {f"k{i:04d}": (base + i, base) for i in range(N)}
    await write(resources, "plans", sessions)
    plan = store(resources, plain_below=0)
    for _ in range(2):
        await page(plan, "created_at", True, 0)
    newest = sorted(sessions, reverse=True)
    await resources.redis.delete(
        *(resources.keys.working_memory(s, None, "plans") for s in newest[:25])
    )
    for sid in newest[:25]:
        del sessions[sid]
    order = sorted(sessions, reverse=True)
    for _ in range(2):
        assert await page(plan, "created_at", True, 0) == (N - 25, order[:20])
    more = {f"m{i:04d}": (base + 4_000 + i * 0.1, base) for i in range(500)}
    await write(resources, "plans", more)
    sessions.update(more)
    order = sorted(sessions, key=lambda s: sessions[s][0], reverse=True)
    for _ in range(2):
        assert await page(plan, "created_at", True, 0) == (len(sessions), order[:20])
