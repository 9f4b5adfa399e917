"""A cluster whose Query Engine has a coordinator is searched through one index, as a single
Redis is (``store.coordinator``: ``has_coordinator``, ``coordinated``).

No coordinator is packaged for this machine (the modules remem embeds are RediSearch 2.10,
which has none), so what is tested is:

- the question, for real: every primary of the three-primary test cluster says ``FT.SEARCH``
  names its index as a key (no coordinator), and remem keeps an index on each;
- remem's layout with a coordinator, on a cluster of one primary whose answer is taken as
  "coordinator" (``has_coordinator`` replaced for this module): as under a coordinator, one
  index there sees every key of the cluster. The official client's flows, the exact listings
  and ``remem reindex`` pass with one index (its names tagged ``{all}``), each question asked
  once.

Not tested: a real coordinator's own answers (its merge of pages, totals and KNN, its FT.INFO),
which the RediSearch project tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from remem.api.app import create_app
from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.runtime import Resources
from remem.store import connection
from remem.store.connection import check_modules, open_redis
from remem.store.coordinator import any_node, coordinated, has_coordinator
from remem.store.fanout import alias_for, aliases
from remem.store.local_cluster import LocalCluster
from tests.cluster.test_listing import (  # noqa: F401  (a fixture and tests, run here again)
    listed,
    test_a_caller_s_prefixes_and_one_user_across_primaries,
    test_a_namespace_is_listed_on_its_primary,
    test_every_session_is_listed_exactly,
)
from tests.cluster.test_official_client import (  # noqa: F401  (a fixture and tests, again)
    ams,
    test_long_term_flow,
    test_memory_prompt_flow,
    test_messages_become_searchable_memories_without_an_llm,
    test_more_of_the_client_on_the_cluster,
    test_working_memory_flow,
)
from tests.cluster.test_reindex_cluster import (  # noqa: F401  (run here again)
    test_reindex_reaches_every_primary,
)
from tests.serving import served


@pytest.fixture(scope="module")
def three_primaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's three-primary cluster is not reachable from here (``cluster_url`` is this
    module's own): a small one of the same wheels, for the real question."""
    with LocalCluster(Path(tmp_path_factory.mktemp("three")), primaries=3) as started:
        yield started.url


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's cluster: one primary serving every slot."""
    with LocalCluster(Path(tmp_path_factory.mktemp("one")), primaries=1) as started:
        yield started.url


@pytest.fixture(autouse=True)
def a_coordinator_answers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every client opened on this module's cluster is told it has a coordinator, except in
    the tests of the question itself."""
    if "three_primaries" in request.fixturenames:
        return

    async def says_yes(cluster: object) -> bool:
        return True

    monkeypatch.setattr(connection, "has_coordinator", says_yes)


async def test_the_bundled_query_engine_has_no_coordinator(three_primaries: str) -> None:
    redis = await open_redis(three_primaries, timeout=5, max_connections=2)
    try:
        assert len(redis.get_primaries()) == 3  # type: ignore[attr-defined]
        assert await has_coordinator(redis) is False  # type: ignore[arg-type]
        assert not coordinated(redis)
        for node in redis.get_primaries():  # type: ignore[attr-defined]
            named = await redis.execute_command(
                "COMMAND GETKEYS", "FT.SEARCH", "an-index", "*", target_nodes=node
            )
            assert named == ["an-index"]
        assert (await check_modules(redis))["coordinator"] is False
    finally:
        await redis.aclose()


async def test_without_a_coordinator_each_primary_has_its_index(three_primaries: str) -> None:
    redis = await open_redis(three_primaries, timeout=5, max_connections=2)
    try:
        assert len(aliases(redis, "k3:ltm")) == 3
        assert alias_for(redis, "k3:ltm", "ns").startswith("k3:ltm:{")
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
async def refused_the_question(three_primaries: str) -> str:
    """The URL of a user every node of ``three_primaries`` refuses ``COMMAND GETKEYS`` (as a
    managed Redis's ACL may), allowed everything else."""
    admin = await open_redis(three_primaries, timeout=5, max_connections=2)
    try:
        await admin.execute_command(
            "ACL SETUSER", "guarded", "on", ">pw", "~*", "&*", "+@all", "-command|getkeys",
            target_nodes=RedisCluster.ALL_NODES,
        )  # fmt: skip
    finally:
        await admin.aclose()
    return three_primaries.replace("redis://", "redis://guarded:pw@", 1)


async def test_a_refused_question_stops_start_up_with_what_to_set(
    refused_the_question: str,
) -> None:
    with pytest.raises(IncompatibleBackend) as refused:
        await open_redis(refused_the_question, timeout=5, max_connections=2)
    assert "REMEM_CLUSTER_COORDINATOR" in refused.value.detail
    assert "COMMAND GETKEYS" in refused.value.detail


@pytest.mark.parametrize("said", ["no", "yes"])
async def test_the_operator_says_whether_there_is_a_coordinator(
    refused_the_question: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Told, remem does not ask (the user would be refused) and lays its indexes out so."""
    monkeypatch.setenv("REMEM_CLUSTER_COORDINATOR", said)
    told = Settings().coordinator
    assert told is (said == "yes")
    redis = await open_redis(refused_the_question, timeout=5, max_connections=2, coordinator=told)
    try:
        assert coordinated(redis) is told
        assert len(aliases(redis, "k3:ltm")) == (1 if told else 3)
        assert (await check_modules(redis))["coordinator"] is told
    finally:
        await redis.aclose()


async def test_with_a_coordinator_one_index_over_the_cluster(
    cluster_settings: Settings, redis: Redis
) -> None:
    assert coordinated(redis)
    async with Resources(cluster_settings) as res:
        assert coordinated(res.redis) and res.versions["coordinator"] is True
        names = await redis.execute_command("FT._LIST", **any_node(redis))
        ours = sorted(n for n in names if n.startswith(cluster_settings.key_prefix))
        assert ours and all(n.endswith(":{all}") for n in ours), ours
        for alias in (cluster_settings.working_memory_index,
                      cluster_settings.long_term_memory_index):  # fmt: skip
            info = await redis.execute_command("FT.INFO", f"{alias}:{{all}}")
            assert info["index_name"] in ours


async def test_a_served_app_reports_the_coordinator(cluster_settings: Settings) -> None:
    async with served(create_app(cluster_settings)) as url, httpx.AsyncClient(base_url=url) as h:
        health = (await h.get("/v1/health")).json()
    assert health.get("redis", {}).get("coordinator") is True, health
