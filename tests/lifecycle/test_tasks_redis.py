"""REMEM_TASKS_REDIS_URL: the task queue (pydocket) in a Redis of its own, the memories in
REDIS_URL's; background work runs all the same, and a Redis Cluster is refused for tasks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from remem.api.app import create_app
from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.runtime import Resources
from remem.store.local_cluster import LocalCluster
from tests.helpers import wait_until
from tests.lifecycle.conftest import search
from tests.serving import private_redis


@pytest.fixture(scope="module")
def tasks_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_redis(tmp_path_factory.mktemp("tasks-redis")) as (url, _):
        yield url


def _keys(url: str, pattern: str) -> set[str]:
    with redis.Redis.from_url(url, decode_responses=True) as client:
        return set(client.scan_iter(match=pattern, count=1000))


async def test_tasks_run_from_their_own_redis(quick: Settings, tasks_url: str) -> None:
    """A promotion is scheduled and run through the tasks' Redis: the memory is found in
    REDIS_URL's, Docket's keys (and the run record remem reads back) are in the other, and
    REDIS_URL's holds none of Docket's keys, only remem's due set beside the memories."""
    settings = quick.model_copy(update={"tasks_redis_url": tasks_url})
    app = create_app(settings)
    body = {"namespace": "ns", "user_id": "u", "memories": [{"id": "m1", "text": "Ann skis"}]}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            assert (await http.put("/v1/working-memory/s1", json=body)).status_code == 200
            found = await wait_until(lambda: search(http, "Ann", namespace="ns"), timeout=10)
            assert [m["id"] for m in found] == ["m1"]
            res: Resources = app.state.resources
            run = res.tasks.docket.runs_key(f"promote:{res.keys.working_memory('s1', 'u', 'ns')}")
            assert await res.tasks.runs.count([run]) == 1
    docket_keys = f"{settings.key_prefix}tasks:*"
    assert run in _keys(tasks_url, docket_keys)
    stays = {res.keys.tasks_due, res.keys.tasks_due_since}
    assert _keys(settings.redis_url or "", docket_keys) <= stays
    with redis.Redis.from_url(tasks_url) as client:  # leave the module's Redis clean
        for key in _keys(tasks_url, f"{settings.key_prefix}*"):
            client.unlink(key)


async def test_a_cluster_is_refused_for_tasks(settings: Settings, tmp_path: Path) -> None:
    with LocalCluster(tmp_path) as cluster:
        settings = settings.model_copy(update={"tasks_redis_url": cluster.url})
        with pytest.raises(IncompatibleBackend, match="REMEM_TASKS_REDIS_URL names a node"):
            async with Resources(settings):
                pass
