"""The official client, agent-memory-client 0.14.0, unchanged against ``remem serve``'s app over
real HTTP with REDIS_URL naming a node of the three-primary test cluster and the task queue in
a single Redis of its own (REMEM_TASKS_REDIS_URL, the test run's Redis): the working-memory,
long-term and memory-prompt flows in namespaces spread over every primary, and background
extraction without an LLM."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import pytest
from agent_memory_client import MemoryAPIClient, MemoryClientConfig
from agent_memory_client.exceptions import MemoryNotFoundError
from agent_memory_client.filters import Namespace
from agent_memory_client.models import (
    ClientMemoryRecord,
    CreateSummaryViewRequest,
    ForgetPolicy,
    MemoryMessage,
    WorkingMemory,
)
from redis.asyncio import Redis

from remem.api.app import create_app
from remem.config import Settings
from remem.models.views import GROUP_FIELDS
from remem.runtime import Resources
from remem.store.schema import GROUPABLE
from tests.cluster.conftest import spread_namespaces
from tests.helpers import wait_until
from tests.serving import served

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
async def ams(cluster_settings: Settings) -> AsyncIterator[MemoryAPIClient]:
    """The official client of the app served over HTTP, with no default namespace."""
    async with served(create_app(cluster_settings)) as url:
        client = MemoryAPIClient(MemoryClientConfig(base_url=url))
        try:
            yield client
        finally:
            await client.close()


async def test_resources_name_keys_for_the_cluster(cluster_settings: Settings) -> None:
    async with Resources(cluster_settings) as res:
        assert res.keys.cluster and res.keys.prefix == cluster_settings.key_prefix
        assert res.working.store.keys is res.keys and res.long_term.store.keys is res.keys
    assert set(GROUPABLE) == set(GROUP_FIELDS)  # a view's group_by is SORTABLE on a cluster


async def test_working_memory_flow(ams: MemoryAPIClient, redis: Redis) -> None:
    namespaces = await spread_namespaces(redis)
    for n, ns in enumerate(namespaces):
        for s in range(2):
            memory = WorkingMemory(
                session_id=f"s{s}",
                namespace=ns,
                user_id="ann",
                messages=[MemoryMessage(role="user", content=f"hello from {ns} {s}")],
                data={"n": n},
                ttl_seconds=600,
            )
            put = await ams.put_working_memory(f"s{s}", memory, user_id="ann")
            assert put.namespace == ns and put.session_id == f"s{s}"
    for ns in namespaces:
        got = await ams.get_working_memory("s1", user_id="ann", namespace=ns)
        assert [m.content for m in got.messages] == [f"hello from {ns} 1"]
        listed = await ams.list_sessions(namespace=ns, limit=10)
        assert listed.total == 2 and listed.sessions == ["s1", "s0"]
    everywhere = await ams.list_sessions(limit=100)
    assert everywhere.total == 2 * len(namespaces)
    assert sorted(everywhere.sessions) == sorted(["s0", "s1"] * len(namespaces))
    page = await ams.list_sessions(user_id="ann", limit=3, offset=len(namespaces))
    assert page.total == 2 * len(namespaces) and len(page.sessions) == 3

    ns = namespaces[-1]
    appended = await ams.append_messages_to_working_memory(
        "s0", [{"role": "assistant", "content": "hi back"}], namespace=ns, user_id="ann"
    )
    assert [m.content for m in appended.messages] == [f"hello from {ns} 0", "hi back"]
    again = await ams.get_working_memory("s0", user_id="ann", namespace=ns)
    assert len(again.messages) == 2 and again.data == {"n": len(namespaces) - 1}

    for ns in namespaces:
        assert (await ams.delete_working_memory("s0", namespace=ns, user_id="ann")).status == "ok"
        with pytest.raises(MemoryNotFoundError):
            await ams.get_working_memory("s0", user_id="ann", namespace=ns)
    left = await ams.list_sessions(limit=100)
    assert left.total == len(namespaces) and set(left.sessions) == {"s1"}


def _record(id_: str, text: str, ns: str, user: str) -> ClientMemoryRecord:
    return ClientMemoryRecord(id=id_, text=text, namespace=ns, user_id=user, topics=["t"])


async def test_long_term_flow(ams: MemoryAPIClient, redis: Redis) -> None:
    namespaces = await spread_namespaces(redis)
    records = [
        _record(f"m{n}", f"{ns} keeps bees on the roof of house {n}", ns, f"u{n % 2}")
        for n, ns in enumerate(namespaces)
    ]
    records.append(_record("tea", "Alice prefers green tea in the morning", namespaces[0], "u0"))
    assert (await ams.create_long_term_memory(records)).status == "ok"

    everywhere = await ams.search_long_term_memory(text="bees on the roof", limit=50)
    ids = [m.id for m in everywhere.memories]  # a hybrid search: every memory matches
    assert sorted(ids[:-1]) == [f"m{n}" for n in range(len(namespaces))] and ids[-1] == "tea"
    assert everywhere.total == len(namespaces) + 1
    for n, ns in enumerate(namespaces):
        found = await ams.search_long_term_memory(text="bees", namespace={"eq": ns}, limit=5)
        assert found.memories[0].id == f"m{n}" and found.memories[0].namespace == ns
        assert found.total == (2 if n == 0 else 1)
    tea = await ams.search_long_term_memory(
        text="green tea", namespace={"eq": namespaces[0]}, user_id={"eq": "u0"}, limit=1
    )
    assert [m.id for m in tea.memories] == ["tea"]

    got = await ams.get_long_term_memory("m3")
    assert got.namespace == namespaces[3] and got.text.startswith(namespaces[3])
    edited = await ams.edit_long_term_memory("m3", {"text": "a fox lives under the shed"})
    assert edited.text == "a fox lives under the shed" and edited.namespace == namespaces[3]
    fox = await ams.search_long_term_memory(text="fox under the shed", limit=1)
    assert [m.id for m in fox.memories] == ["m3"]

    ack = await ams.delete_long_term_memories(["m3", "m4", "missing"])
    assert ack.status == "ok, deleted 2 memories"
    for gone in ("m3", "m4"):
        with pytest.raises(MemoryNotFoundError):
            await ams.get_long_term_memory(gone)
    after = await ams.search_long_term_memory(text="bees", limit=50)
    assert after.total == len(namespaces) - 1


async def test_memory_prompt_flow(ams: MemoryAPIClient, redis: Redis) -> None:
    namespaces = await spread_namespaces(redis, per_primary=1)
    for ns in namespaces:
        turns = [{"role": "user", "content": f"I am planning a trip from {ns} to Lisbon"}]
        memory = WorkingMemory(
            session_id="chat", namespace=ns, user_id="alice", messages=turns, context="spring"
        )
        await ams.put_working_memory("chat", memory, user_id="alice")
        await ams.create_long_term_memory(
            [
                _record(f"river-{ns}", f"Alice of {ns} likes hotels by the river", ns, "alice"),
                _record(f"bob-{ns}", f"Bob of {ns} likes hotels by the river", ns, "bob"),
            ]
        )
    for ns in namespaces:
        prompt = await ams.memory_prompt(
            "which hotel should I pick?",
            session_id="chat",
            namespace=ns,
            user_id="alice",
            long_term_search={"limit": 3, "user_id": {"eq": "alice"}, "namespace": {"eq": ns}},
        )
        texts = [(m["role"], m["content"]["text"]) for m in prompt["messages"]]
        assert texts[0] == ("system", "## A summary of the conversation so far:\nspring")
        assert texts[1] == ("user", f"I am planning a trip from {ns} to Lisbon")
        role, listing = texts[2]
        assert role == "system" and f"(ID: river-{ns})" in listing
        assert "Bob" not in listing and all(
            f"river-{other})" not in listing for other in namespaces if other != ns
        )


async def test_messages_become_searchable_memories_without_an_llm(
    ams: MemoryAPIClient, redis: Redis
) -> None:
    """Background extraction through the tasks' Redis: each namespace's turns, written to
    working memory, come back from a long-term search of that namespace."""
    namespaces = await spread_namespaces(redis, per_primary=1)
    for ns in namespaces:
        await ams.put_working_memory(
            "trip", WorkingMemory(session_id="trip", namespace=ns, messages=[]), user_id="dana"
        )
        await ams.append_messages_to_working_memory(
            "trip",
            [MemoryMessage(role="user", content=f"My budget for {ns} is about 2000 euros")],
            namespace=ns,
            user_id="dana",
        )

    async def extracted() -> bool:
        for ns in namespaces:
            found = await ams.search_long_term_memory(
                text="budget euros", namespace={"eq": ns}, user_id={"eq": "dana"}
            )
            if [m.text for m in found.memories] != [
                f"user: My budget for {ns} is about 2000 euros"
            ]:
                return False
            assert found.memories[0].session_id == "trip"
        return True

    await wait_until(extracted, timeout=30, interval=0.2)
    for ns in namespaces:
        session = await ams.get_working_memory("trip", user_id="dana", namespace=ns)
        assert [m.discrete_memory_extracted for m in session.messages] == ["t"]


async def test_summary_views_partition_over_every_primary(
    ams: MemoryAPIClient, redis: Redis
) -> None:
    """A view grouped by user over namespaces on every primary: one partition per user, its
    memories counted over all of them (a primary groups what its index keeps: SORTABLE tags)."""
    namespaces = await spread_namespaces(redis, per_primary=1)
    records = [
        _record(f"{user}-{n}", f"{user} of {ns} plays chess", ns, user)
        for n, ns in enumerate(namespaces)
        for user in ("Ana", "bo")
    ]
    records.append(_record("solo", "Cy reads", namespaces[0], "Cy"))
    await ams.create_long_term_memory(records)
    view = await ams.create_summary_view(
        CreateSummaryViewRequest(name="by user", source="long_term", group_by=["user_id"])
    )
    task = await ams.run_summary_view(view.id)

    async def finished() -> object:
        polled = await ams.get_task(task.id)
        return polled if polled is not None and polled.status in ("success", "failed") else None

    done = await wait_until(finished, timeout=30, interval=0.2)
    assert done.status == "success", done  # type: ignore[attr-defined]
    listed = await ams.list_summary_view_partitions(view.id)
    per_primary = len(namespaces)
    assert [(p.group, p.memory_count) for p in listed] == [
        ({"user_id": "Ana"}, per_primary),
        ({"user_id": "Cy"}, 1),
        ({"user_id": "bo"}, per_primary),
    ]
    by_both = await ams.create_summary_view(
        CreateSummaryViewRequest(
            name="by namespace and user", source="long_term", group_by=["namespace", "user_id"]
        )
    )
    one = await ams.run_summary_view_partition(
        by_both.id, {"namespace": namespaces[1], "user_id": "bo"}
    )
    assert one.memory_count == 1 and "chess" in one.summary


async def test_more_of_the_client_on_the_cluster(ams: MemoryAPIClient, redis: Redis) -> None:
    """Get-or-create, memories promoted from working memory, the client's filters, a paged
    search over every primary, and forgetting with a budget."""
    namespaces = await spread_namespaces(redis, per_primary=1)
    assert (await ams.health_check()).now > 1.7e12
    for n, ns in enumerate(namespaces):
        created, session = await ams.get_or_create_working_memory("w", namespace=ns, user_id="ed")
        assert created and session.namespace == ns
        again, _ = await ams.get_or_create_working_memory("w", namespace=ns, user_id="ed")
        assert not again
        await ams.add_memories_to_working_memory(
            "w", [_record(f"p{n}", f"Ed of {ns} grows tomatoes", ns, "ed")], namespace=ns
        )

    async def promoted() -> list[str]:
        found = await ams.search_long_term_memory(text="tomatoes", user_id={"eq": "ed"}, limit=9)
        ids = sorted(m.id for m in found.memories)
        return ids if len(ids) == len(namespaces) else []

    assert await wait_until(promoted, timeout=30, interval=0.2) == [
        f"p{n}" for n in range(len(namespaces))
    ]
    in_two = await ams.search_long_term_memory(
        text="tomatoes", session_id={"eq": "w"}, namespace=Namespace(in_=namespaces[:2])
    )
    assert sorted(m.id for m in in_two.memories) == ["p0", "p1"]
    none = await ams.search_long_term_memory(text="tomatoes", topics={"none": ["t"]})
    assert none.total == 0
    paged = [m.id async for m in ams.search_all_long_term_memories(text="Ed", batch_size=2)]
    assert sorted(paged) == [f"p{n}" for n in range(len(namespaces))]

    dry = await ams.forget_long_term_memories(ForgetPolicy(budget=1), dry_run=True)
    assert dry.dry_run is True and dry.deleted == len(namespaces) - 1
    done = await ams.forget_long_term_memories(ForgetPolicy(budget=1), pinned_ids=["p0"])
    assert done.deleted == len(namespaces) - 2 and "p0" not in done.deleted_ids  # one kept, p0
    left = await ams.search_long_term_memory(text="tomatoes", limit=9)
    assert left.total == 2 and "p0" in {m.id for m in left.memories}
    assert not set(done.deleted_ids) & {m.id for m in left.memories}


async def test_thirty_namespaces_spread_over_every_primary(
    ams: MemoryAPIClient, cluster_settings: Settings, redis: Redis
) -> None:
    """Sessions and memories of 30 namespaces, written through the client: every primary
    holds at least a fifth of the keys remem made for them."""
    namespaces = [f"tenant {i}" for i in range(30)]
    for n, ns in enumerate(namespaces):
        messages = [MemoryMessage(role="user", content=f"hello from {ns}")]
        await ams.put_working_memory(
            "s", WorkingMemory(session_id="s", namespace=ns, messages=messages), user_id="u"
        )
        records = [_record(f"m{n}-{k}", f"{ns} note {k}", ns, "u") for k in range(2)]
        assert (await ams.create_long_term_memory(records)).status == "ok"
    held = []
    for node in redis.get_primaries():  # type: ignore[attr-defined]
        keys: list[str] = []
        cursor = None
        while cursor != 0:
            reply = await redis.execute_command(
                "SCAN", cursor or 0, "MATCH", f"{cluster_settings.key_prefix}*", "COUNT", 1000,
                target_nodes=node,
            )  # fmt: skip
            cursor, page = reply  # the cursor as {node: cursor}, from a cluster client
            (cursor,) = cursor.values() if isinstance(cursor, dict) else (cursor,)
            cursor = int(cursor)
            keys += page
        held.append(sum(1 for k in keys if any(t in k for t in ("wm:", "mem:"))))
    assert len(held) == 3 and all(n >= 0.2 * sum(held) for n in held), held
    assert sum(held) >= 30 * 3  # a session and two memories a namespace, at least
