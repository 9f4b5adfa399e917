"""Long-term memory through the managed SDK: a store's memories are the memories of remem's
namespace of the same name, written, read, searched and deleted through either API."""

from __future__ import annotations

from typing import Any

import pytest
from agent_memory_client.filters import Namespace
from agent_memory_client.models import ClientMemoryRecord
from redis_agent_memory import errors

from tests.managed.conftest import STORE, Both


def record(memory_id: str, text: str, owner: str = "alice", **kw: Any) -> dict[str, Any]:
    return {"id": memory_id, "text": text, "owner_id": owner, **kw}


async def create(both: Both, *memories: dict[str, Any]) -> Any:
    return await both.sdk.bulk_create_long_term_memories_async(memories=list(memories))  # type: ignore[arg-type]


async def search(both: Both, **request: Any) -> Any:
    return await both.sdk.search_long_term_memory_async(request=request)  # type: ignore[arg-type]


async def test_create_get_patch_and_delete(both: Both) -> None:
    made = await create(
        both,
        record("m1", "alice drinks green tea", topics=["tea"], memory_type="Episodic",
               session_id="chat-1", attributes={"mood": "calm", "stars": 4}),
    )  # fmt: skip
    assert made.created == ["m1"] and not made.errors
    got = await both.sdk.get_long_term_memory_async(memory_id="m1")
    assert (got.text, got.owner_id, got.session_id, got.memory_type) == (
        "alice drinks green tea",
        "alice",
        "chat-1",
        "episodic",
    )
    assert got.topics == ["tea"] and got.attributes == {"mood": "calm", "stars": 4}
    edited = await both.sdk.update_long_term_memory_async(
        memory_id="m1", text="alice drinks black tea", session_id="", owner_id="alice-2"
    )
    assert edited.text == "alice drinks black tea" and edited.session_id is None
    assert edited.owner_id == "alice-2" and edited.updated_at > got.updated_at
    gone = await both.sdk.bulk_delete_long_term_memories_async(memory_ids=["m1", "nope"])
    assert gone.deleted == ["m1"] and [(e.id, e.error) for e in gone.errors] == [
        ("nope", "not found")
    ]
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.get_long_term_memory_async(memory_id="m1")


async def test_bulk_create_reports_each_refused_item(both: Both) -> None:
    made = await create(
        both,
        record("ok-1", "bob likes chess", owner="bob"),
        record("bad-type", "bob likes go", owner="bob", memory_type="invented"),
        record("placed", "bob likes shogi", owner="bob", namespace_ref={"namespace_id": "n"}),
    )
    assert made.created == ["ok-1"]
    assert {e.id for e in made.errors} == {"bad-type", "placed"}
    assert "memoryType" in next(e.error for e in made.errors if e.id == "bad-type")


async def test_an_id_another_store_holds_is_an_item_error(both: Both) -> None:
    await create(both, record("shared-id", "in store s"))
    other = await both.store("store-t").bulk_create_long_term_memories_async(
        memories=[record("shared-id", "in store t"), record("t-own", "store t text")]  # type: ignore[list-item]
    )
    assert other.created == ["t-own"] and [e.id for e in other.errors] == ["shared-id"]
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.store("store-t").get_long_term_memory_async(memory_id="shared-id")
    assert (await both.sdk.get_long_term_memory_async(memory_id="shared-id")).text == "in store s"


async def test_invalid_records_are_a_400_naming_the_field(both: Both) -> None:
    with pytest.raises(errors.BadRequestErrorResponseContent) as caught:
        await create(both, record("x", "text", owner="not valid!"))
    assert [f.field for f in caught.value.data.fields or []] == ["memories[0].ownerId"]


async def test_search_by_text_with_filters_and_pages(both: Both) -> None:
    await create(
        both,
        *[record(f"tea-{i}", f"alice likes tea number {i}", topics=["tea"]) for i in range(5)],
        record("chess", "bob plays chess on sundays", owner="bob", topics=["games"]),
    )
    found = await search(both, text="tea", filter={"topics": {"eq": "tea"}}, limit=2)
    seen = [m.id for m in found.items]
    token = found.next_page_token
    while token:
        page = await search(
            both, text="tea", filter={"topics": {"eq": "tea"}}, limit=2, page_token=token
        )
        seen += [m.id for m in page.items]
        token = page.next_page_token
    assert sorted(seen) == [f"tea-{i}" for i in range(5)]
    bob = await search(both, text="chess", filter={"owner_id": {"in": ["bob", "carol"]}})
    assert [m.id for m in bob.items] == ["chess"]
    not_bob = await search(both, filter={"owner_id": {"ne": "bob"}}, limit=100)
    assert "chess" not in {m.id for m in not_bob.items} and len(not_bob.items) == 5


async def test_filter_op_any_really_ors_the_conditions(both: Both) -> None:
    await create(
        both,
        record("a", "alice likes green tea", topics=["tea"]),
        record("b", "bob plays chess", owner="bob", topics=["games"]),
        record("c", "carol sings", owner="carol", topics=["music"]),
    )
    either = {"topics": {"eq": "tea"}, "owner_id": {"eq": "bob"}}
    anyof = await search(both, filter=either, filter_op="any", limit=10)
    assert sorted(m.id for m in anyof.items) == ["a", "b"]
    allof = await search(both, filter=either, filter_op="all", limit=10)
    assert allof.items == []


async def test_similarity_threshold_is_a_cosine_similarity(both: Both) -> None:
    await create(
        both, record("same", "the cat sat on the mat"), record("far", "quarterly tax forms")
    )
    exact = await search(both, text="the cat sat on the mat", similarity_threshold=0.99)
    assert [m.id for m in exact.items] == ["same"]
    everything = await search(both, text="the cat sat on the mat", similarity_threshold=0.0)
    assert {m.id for m in everything.items} >= {"same"}


async def test_forged_tokens_are_400s(both: Both) -> None:
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await search(both, text="x", page_token="forged")


async def test_memories_cross_between_the_two_apis(both: Both) -> None:
    """Written with agent-memory-client in namespace S: read, searched and deleted through
    store S; written through store S: read and searched with agent-memory-client."""
    old = ClientMemoryRecord(id="from-ams", text="dave rides a red bicycle", user_id="dave")
    await both.ams.create_long_term_memory([old])
    got = await both.sdk.get_long_term_memory_async(memory_id="from-ams")
    assert got.owner_id == "dave" and got.text == "dave rides a red bicycle"
    found = await search(both, text="red bicycle", filter={"owner_id": {"eq": "dave"}})
    assert [m.id for m in found.items] == ["from-ams"]
    await create(both, record("from-sdk", "erin paints blue boats", owner="erin"))
    mine = await both.ams.get_long_term_memory("from-sdk")
    assert mine.namespace == STORE and mine.user_id == "erin"
    hits = await both.ams.search_long_term_memory(text="blue boats", namespace=Namespace(eq=STORE))
    assert "from-sdk" in [m.id for m in hits.memories]
    deleted = await both.sdk.bulk_delete_long_term_memories_async(memory_ids=["from-ams"])
    assert deleted.deleted == ["from-ams"]
    hits = await both.ams.search_long_term_memory(text="red bicycle", namespace=Namespace(eq=STORE))
    assert "from-ams" not in [m.id for m in hits.memories]


async def test_update_fields_only_while_the_type_still_holds(both: Both) -> None:
    await create(both, record("f1", "draft text", memory_type="episodic", attributes={"a": 1}))
    await both.sdk.update_long_term_memory_fields_async(
        memory_id="f1", memory_type="EPISODIC", text="final text", attributes={"b": [1.5, 2.5]}
    )
    got = await both.sdk.get_long_term_memory_async(memory_id="f1")
    assert got.text == "final text" and got.attributes == {"b": [1.5, 2.5]}
    for wrong in ({"memory_type": "semantic"}, {"memory_type": "episodic", "namespace": "x"}):
        with pytest.raises(errors.APIError) as caught:  # the SDK maps no 409 here
            await both.sdk.update_long_term_memory_fields_async(memory_id="f1", **wrong)  # type: ignore[arg-type]
        assert caught.value.status_code == 409
    assert (await both.sdk.get_long_term_memory_async(memory_id="f1")).text == "final text"
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.store("store-t").update_long_term_memory_fields_async(
            memory_id="f1", memory_type="episodic", text="stolen"
        )
