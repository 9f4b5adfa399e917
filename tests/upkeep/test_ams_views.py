"""`remem migrate` on the summary views the real Agent Memory Server 0.15.2 wrote
(tests/fixtures/ams/ams-0.15.2-views.json): each view and its stored summaries read back through
remem's API as AMS's API answered them, AMS's keys gone (its task records left to expire), a
second run with nothing to do, and what remem cannot take left in place with the reason."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from remem.config import Settings
from tests.upkeep.test_ams_memories import migrate

FIXTURE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "ams" / "ams-0.15.2-views.json").read_text()
)
SV = "/v1/summary-views"


async def _ams_view_keys(r: Redis) -> list[str]:
    return sorted([k.decode() async for k in r.scan_iter(match="summary_view:*", count=1000)])


@pytest.fixture
async def ams(redis_url: str) -> AsyncIterator[Redis]:
    """The recorded keys written back as AMS left them (its task record with its TTL)."""
    r = Redis.from_url(redis_url)

    async def clear() -> None:
        keys = [k async for k in r.scan_iter(match="summary_view:*", count=1000)]
        keys += [entry["key"].encode() for entry in FIXTURE["keys"]]
        await r.delete(*keys)

    await clear()
    for entry in FIXTURE["keys"]:
        key, value = entry["key"], entry["value"]
        if entry["type"] == "set":
            await r.sadd(key, *value)
        else:
            await r.set(key, value)
        if entry["pttl"] > 0:
            await r.pexpire(key, entry["pttl"])
    yield r
    await clear()
    await r.aclose()


def _by_group(partitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(partitions, key=lambda p: json.dumps(p["group"], sort_keys=True))


async def test_every_view_and_summary_moves_and_a_second_run_does_nothing(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    report, printed = await migrate(settings)
    assert report.views.moved == report.views.found == 2 and not report.skipped
    assert report.views.summaries_moved == 3
    assert "  AMS summary views moved: 2 of 2, with 3 stored summaries; 0 already in remem" in (
        "\n".join(printed)
    )
    for view in FIXTURE["views"]:
        got = await client.get(f"{SV}/{view['id']}")
        assert got.status_code == 200 and got.json() == view["api_view"], got.text
        parts = (await client.get(f"{SV}/{view['id']}/partitions")).json()
        assert _by_group(parts) == _by_group(view["partitions"])
    listed = (await client.get(SV)).json()
    assert sorted(v["id"] for v in listed) == sorted(v["id"] for v in FIXTURE["views"])
    assert await _ams_view_keys(ams) == []
    task = next(e["key"] for e in FIXTURE["keys"] if e["key"].startswith("task:"))
    assert await ams.exists(task)  # AMS's task record: left to expire
    again, printed = await migrate(settings)
    assert again.views.found == 0 and "summary views" not in "\n".join(printed)


async def test_a_dry_run_predicts_and_changes_nothing(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    before = await _ams_view_keys(ams)
    report, printed = await migrate(settings, dry_run=True)
    assert (report.views.moved, report.views.summaries_moved) == (2, 3)
    assert "  AMS summary views to move: 2 of 2" in "\n".join(printed)
    assert await _ams_view_keys(ams) == before
    assert (await client.get(SV)).json() == []


async def test_keep_source_copies_and_leaves_ams_as_it_was(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    before = await _ams_view_keys(ams)
    report, _ = await migrate(settings, keep_source=True)
    assert report.views.moved == 2
    assert await _ams_view_keys(ams) == before
    assert len((await client.get(SV)).json()) == 2
    again, _ = await migrate(settings)  # then the move: remem's copies are the same views
    assert again.views.already_present == 2 and again.views.moved == 0
    assert await _ams_view_keys(ams) == []


async def test_what_remem_cannot_take_is_left_in_place_with_the_reason(
    ams: Redis, settings: Settings, client: httpx.AsyncClient
) -> None:
    """A view of working memory (remem summarises long-term memory only), an unreadable
    summary and one naming another view (their view moves, and stays in AMS until they are
    dealt with), and a view whose id remem already holds for another view."""
    by_user, everything = FIXTURE["views"]
    config = json.loads(await ams.get(f"summary_view:{by_user['id']}:config"))
    wm = {**config, "id": "wm-view", "source": "working_memory"}
    await ams.set("summary_view:wm-view:config", json.dumps(wm))
    await ams.sadd("summary_view:index", "wm-view")
    broken = f"summary_view:{everything['id']}:summary:torn"
    await ams.set(broken, '{"view_id": "x", "group": ')
    strayed = f"summary_view:{everything['id']}:summary:user_id=bo"
    stray = json.loads(await ams.get(f"summary_view:{by_user['id']}:summary:user_id=bo"))
    await ams.set(strayed, json.dumps(stray))  # names the other view
    made = await client.post(SV, json={"source": "long_term", "group_by": ["namespace"]})
    other = made.json()["id"]
    await ams.set(f"summary_view:{other}:config", json.dumps({**config, "id": other}))
    await ams.sadd("summary_view:index", other)

    report, printed = await migrate(settings)
    assert report.views.moved == 2
    reasons = report.skipped
    assert "working_memory" in reasons["summary_view:wm-view:config"]
    assert reasons[broken].startswith("invalid")
    assert reasons[strayed] == "a summary of another view"
    assert reasons[f"summary_view:{other}:config"] == "remem holds another view with this id"
    left = await _ams_view_keys(ams)
    assert left == sorted(
        [
            "summary_view:index",
            "summary_view:wm-view:config",
            f"summary_view:{everything['id']}:config",
            broken,
            strayed,
            f"summary_view:{other}:config",
        ]
    )
    assert (await client.get(f"{SV}/{other}")).json()["group_by"] == ["namespace"]
    parts = (await client.get(f"{SV}/{everything['id']}/partitions")).json()
    assert parts == everything["partitions"]  # the readable summary moved
    assert "skipped, left in place: 4" in "\n".join(printed)
