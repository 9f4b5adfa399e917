"""Summary views over the HTTP API on the real Redis (no LLM: summaries are the digest): what
a partition holds, scopes, time windows, hostile values, task ids and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from remem.background.summary_views import Scope
from remem.models.views import Task, TaskStatusEnum, TaskTypeEnum
from remem.runtime import Resources
from tests.helpers import assert_4xx_with_reason, wait_until

HOSTILE = ["a b", "x{y}|z", "-@*()", "user:1 OR *", 'q"uote', "ünï", "a_b", "%41"]
LT = "/v1/long-term-memory/"
SV = "/v1/summary-views"


def record(text: str, **fields: Any) -> dict[str, Any]:
    return {"text": text, **fields}


async def store(client: httpx.AsyncClient, *records: dict[str, Any]) -> None:
    r = await client.post(LT, json={"memories": list(records), "deduplicate": False})
    assert r.status_code == 200, r.text


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post(SV, json={"source": "long_term", **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def finish(client: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        r = await client.get(f"/v1/tasks/{task_id}")
        assert r.status_code == 200, r.text
        task = dict(r.json())
        return task if task["status"] in ("success", "failed") else None

    return await wait_until(done, timeout=20)


async def test_hostile_group_values_are_partitions_of_their_own(
    client: httpx.AsyncClient,
) -> None:
    """Users whose ids hold query syntax each get a partition of exactly their memories, found
    by the full run (FT.AGGREGATE) and by a run of one partition."""
    await store(client, *(record(f"memory of {u}", user_id=u) for u in HOSTILE))
    await store(client, record("a second memory of a b", user_id="a b"))
    view = await create(client, group_by=["user_id"])
    r = await client.post(f"{SV}/{view['id']}/run", json={})
    assert r.status_code == 200, r.text
    assert (await finish(client, r.json()["id"]))["status"] == "success"
    listed = (await client.get(f"{SV}/{view['id']}/partitions")).json()
    counts = {p["group"]["user_id"]: p["memory_count"] for p in listed}
    assert counts == {u: 2 if u == "a b" else 1 for u in HOSTILE}
    for user in HOSTILE:
        r = await client.post(
            f"{SV}/{view['id']}/partitions/run", json={"group": {"user_id": user}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["memory_count"] == counts[user]
        assert f"memory of {user}" in r.json()["summary"]
        r = await client.get(f"{SV}/{view['id']}/partitions", params={"user_id": user})
        assert [p["group"] for p in r.json()] == [{"user_id": user}]


async def test_filters_time_window_and_memories_without_the_group_field(
    client: httpx.AsyncClient,
) -> None:
    """Filters and the time window narrow the pool; memories lacking a group_by field belong
    to no partition; a full run drops summaries of partitions left without memories."""
    old = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    await store(
        client,
        record("recent in s1", namespace="n", session_id="s1", memory_type="episodic"),
        record("recent in s2", namespace="n", session_id="s2"),
        record("old in s1", namespace="n", session_id="s1", created_at=old),
        record("no session", namespace="n"),
        record("other namespace", namespace="m", session_id="s1"),
    )
    view = await create(
        client, group_by=["session_id"], filters={"namespace": "n"}, time_window_days=7
    )
    stale = await client.post(
        f"{SV}/{view['id']}/partitions/run", json={"group": {"session_id": "gone"}}
    )
    assert stale.json()["memory_count"] == 0
    assert stale.json()["summary"] == "No memories found for group {'session_id': 'gone'}."
    r = await client.post(f"{SV}/{view['id']}/run")
    assert (await finish(client, r.json()["id"]))["status"] == "success"
    listed = (await client.get(f"{SV}/{view['id']}/partitions")).json()
    assert [(p["group"], p["memory_count"]) for p in listed] == [
        ({"session_id": "s1"}, 1),
        ({"session_id": "s2"}, 1),
    ]
    assert "recent in s1" in listed[0]["summary"] and "old in s1" not in listed[0]["summary"]
    assert "Types: episodic 1." in listed[0]["summary"]

    by_type = await create(client, group_by=["memory_type", "namespace"])
    r = await client.post(
        f"{SV}/{by_type['id']}/partitions/run",
        json={"group": {"memory_type": "semantic", "namespace": "n"}},
    )
    assert r.json()["memory_count"] == 3  # recent in s2, old in s1, no session


async def test_a_scope_reads_and_lists_only_its_own(resources: Resources) -> None:
    """A run in a scope summarises only the scope's memories, and its summaries are listed in
    that scope only (the authorisation of issue 14 will pass the caller's scope)."""
    from remem.models.memory import MemoryRecord
    from remem.models.views import CreateSummaryViewRequest

    await resources.long_term.create(
        [
            MemoryRecord(text="alpha in n1", namespace="n1", user_id="u"),
            MemoryRecord(text="beta in n2", namespace="n2", user_id="u"),
        ]
    )
    views = resources.summary_views
    view = await views.create(CreateSummaryViewRequest(source="long_term", group_by=["user_id"]))
    everyone = await views.run_partition(view.id, {"user_id": "u"})
    assert everyone.memory_count == 2
    scoped = await views.run_partition(view.id, {"user_id": "u"}, Scope(namespace="n1"))
    assert scoped.memory_count == 1 and "beta" not in scoped.summary
    assert await views.refresh(view, Scope(namespace="n2")) == 1
    mine = await views.list_partitions(view.id, scope=Scope(namespace="n2"))
    assert [p.summary.count("beta in n2") for p in mine] == [1] and "alpha" not in mine[0].summary
    unscoped = await views.list_partitions(view.id)
    assert [p.memory_count for p in unscoped] == [2]


async def test_a_task_id_names_one_run(client: httpx.AsyncClient, resources: Resources) -> None:
    """A repeated run request with the same task_id returns the same record and runs nothing
    more; the id used for another view is a 409; a finished task never changes status again."""
    view = await create(client, group_by=[])
    other = await create(client, group_by=[])
    first = await client.post(f"{SV}/{view['id']}/run", json={"task_id": "t-1"})
    assert first.status_code == 200 and first.json()["id"] == "t-1"
    done = await finish(client, "t-1")
    again = await client.post(f"{SV}/{view['id']}/run", json={"task_id": "t-1"})
    assert again.status_code == 200 and again.json() == done
    assert_4xx_with_reason(
        await client.post(f"{SV}/{other['id']}/run", json={"task_id": "t-1"}), 409
    )
    client_app_views = resources.summary_views  # same Redis and prefix as the app's
    after = await client_app_views.set_status("t-1", TaskStatusEnum.RUNNING)
    assert after is not None and after.status == TaskStatusEnum.SUCCESS


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"group_by": ["topics"]}, 400),
        ({"group_by": ["user_id", "user_id"]}, 400),
        ({"group_by": [], "filters": {"entities": "x"}}, 400),
        ({"group_by": [], "filters": {"user_id": 5}}, 400),
        ({"group_by": [], "filters": {"user_id": ""}}, 400),
        ({"group_by": [], "filters": {"memory_type": "dream"}}, 400),
        ({"group_by": [], "time_window_days": 0}, 422),
        ({"group_by": [], "time_window_days": 10**9}, 422),
        ({"group_by": ["user_id"], "source": "working_memory"}, 400),
    ],
)
async def test_views_that_cannot_run_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    r = await client.post(SV, json={"source": "long_term", **body})
    assert_4xx_with_reason(r, status)
    assert (await client.get(SV)).json() == []


async def test_unknown_ids_and_bad_groups_are_refused(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", f"{SV}/nope"),
        ("DELETE", f"{SV}/nope"),
        ("GET", f"{SV}/nope/partitions"),
        ("POST", f"{SV}/nope/run"),
        ("GET", "/v1/tasks/nope"),
    ]:
        assert_4xx_with_reason(await client.request(method, path), 404)
    r = await client.post(f"{SV}/nope/partitions/run", json={"group": {}})
    assert_4xx_with_reason(r, 404)
    view = await create(client, group_by=["memory_type"])
    for group in [{}, {"user_id": "u"}, {"memory_type": "dream"}, {"memory_type": " x"}]:
        r = await client.post(f"{SV}/{view['id']}/partitions/run", json={"group": group})
        assert_4xx_with_reason(r, 400)
    r = await client.post(f"{SV}/{view['id']}/run", json={"task_id": ""})
    assert_4xx_with_reason(r, 400)
    assert (await client.get(f"{SV}/{view['id']}/partitions")).json() == []
    for bad in ("", " u", "a\x01"):
        r = await client.get(f"{SV}/{view['id']}/partitions", params={"user_id": bad})
        assert_4xx_with_reason(r, 400)


async def test_a_redelivered_run_finishes_and_a_finished_one_is_not_run_again(
    resources: Resources,
) -> None:
    """A run whose worker died leaves its record running; the redelivered run takes it over and
    ends in success. A run of a task already finished changes nothing."""
    from remem.models.memory import MemoryRecord
    from remem.models.views import CreateSummaryViewRequest

    views = resources.summary_views
    await resources.long_term.create([MemoryRecord(text="kept", user_id="u")])
    view = await views.create(CreateSummaryViewRequest(source="long_term", group_by=["user_id"]))
    views.schedule = None  # nothing runs it but this test
    task = Task(id="t-dead", type=TaskTypeEnum.SUMMARY_VIEW_FULL_RUN, view_id=view.id)
    stored = await views.views.create_task(task.id, task.model_dump_json())
    assert stored is None
    first = await views.set_status("t-dead", TaskStatusEnum.RUNNING)
    assert first is not None and first.status == TaskStatusEnum.RUNNING
    await views.run_task(view.id, "t-dead")
    done = await views.get_task("t-dead")
    assert done.status == TaskStatusEnum.SUCCESS and done.started_at == first.started_at
    assert [p.memory_count for p in await views.list_partitions(view.id)] == [1]
    await views.delete(view.id)
    await views.run_task(view.id, "t-dead")  # the view is gone, but the task had finished
    assert await views.get_task("t-dead") == done


async def test_a_scope_narrows_a_views_filters_and_never_widens_them(
    resources: Resources,
) -> None:
    """A view filtered to namespace n1, run in the scope of namespace n2, reads nothing: the
    scope is AND-ed with the view's filters, never put in their place."""
    from remem.models.memory import MemoryRecord
    from remem.models.views import CreateSummaryViewRequest

    await resources.long_term.create(
        [
            MemoryRecord(text="in n1", namespace="n1", user_id="u"),
            MemoryRecord(text="in n2", namespace="n2", user_id="u"),
        ]
    )
    views = resources.summary_views
    view = await views.create(
        CreateSummaryViewRequest(source="long_term", filters={"namespace": "n1"})
    )
    assert (await views.run_partition(view.id, {})).memory_count == 1
    assert (await views.run_partition(view.id, {}, Scope(namespace="n2"))).memory_count == 0
    assert (await views.run_partition(view.id, {}, Scope(user_id="u"))).memory_count == 1
