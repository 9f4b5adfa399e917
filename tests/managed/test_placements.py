"""Memories placed in namespace resources (``namespaceRef``) through the managed SDK: placed on
create, by PATCH or move, found by the namespaceRef filter, and holding their namespace
against deletion."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis_agent_memory import errors

from tests.managed.conftest import Both


async def namespace(both: Both, name: str, **more: Any) -> str:
    made = await both.sdk.create_namespace_async(request={"name": name, "scope": "SHARED", **more})
    return made.namespace.namespace_id


def record(memory_id: str, text: str, **kw: Any) -> dict[str, Any]:
    return {"id": memory_id, "text": text, "owner_id": "alice", **kw}


async def test_placed_on_create_read_back_with_its_path(both: Both) -> None:
    team = await namespace(both, "team")
    notes = (
        await both.sdk.create_namespace_async(request={"name": "notes", "parent_id": team})
    ).namespace.namespace_id
    made = await both.sdk.bulk_create_long_term_memories_async(
        memories=[
            record("p1", "the team meets on mondays", namespace_ref={"namespace_id": notes}),
            record("p2", "nowhere", namespace_ref={"namespace_id": "missing"}),
        ]  # type: ignore[list-item]
    )
    assert made.created == ["p1"] and [e.id for e in made.errors] == ["p2"]
    got = await both.sdk.get_long_term_memory_async(memory_id="p1")
    assert got.namespace_ref is not None
    assert (got.namespace_ref.namespace_id, got.namespace_ref.path) == (notes, "team/notes")
    async with httpx.AsyncClient(base_url=both.url) as http:  # the other API shows it too
        old = (await http.get("/v1/long-term-memory/p1")).json()
    assert old["namespace"] == "store-s" and old["namespace_id"] == notes
    async with httpx.AsyncClient(base_url=both.url) as http:  # and leaves it out when unset
        assert "namespace_id" not in (await http.get("/v1/long-term-memory/p2")).text


async def test_the_namespace_ref_filter_and_move(both: Both) -> None:
    here, there = await namespace(both, "here"), await namespace(both, "there")
    await both.sdk.bulk_create_long_term_memories_async(
        memories=[
            record("a", "apples are red", namespace_ref={"namespace_id": here}),
            record("b", "bananas are yellow", namespace_ref={"namespace_id": here}),
            record("c", "cherries are dark"),
        ]  # type: ignore[list-item]
    )

    async def placed(*ids: str) -> list[str]:
        found = await both.sdk.search_long_term_memory_async(
            request={"filter": {"namespace_ref": {"in": list(ids)}}, "limit": 100}
        )
        return sorted(m.id for m in found.items)

    assert await placed(here) == ["a", "b"] and await placed(there) == []
    moved = await both.sdk.move_long_term_memories_async(
        memory_ids=["b", "c", "nope"], namespace_ref={"namespace_id": there}
    )
    assert moved.moved == ["b", "c"] and [e.id for e in moved.errors] == ["nope"]
    assert await placed(here) == ["a"] and await placed(there) == ["b", "c"]
    assert await placed(here, there) == ["a", "b", "c"]
    await both.sdk.bulk_create_long_term_memories_async(
        memories=[record("d", "dates are sweet")]  # type: ignore[list-item]
    )

    async def unnamespaced(flag: bool, **more: Any) -> list[str]:
        asked = {"filter": {"unnamespaced": flag, **more}, "filter_op": "any", "limit": 100}
        found = await both.sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
        return sorted(m.id for m in found.items)

    assert await unnamespaced(True) == ["d"]
    assert await unnamespaced(False) == ["a", "b", "c"]
    either = {"owner_id": {"eq": "alice"}, "session_id": {"eq": "none-such"}}
    assert await unnamespaced(True, **either) == ["d"]  # ANDed, even with filterOp any
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await unnamespaced(True, namespace_ref={"eq": here})
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await both.sdk.move_long_term_memories_async(
            memory_ids=["a"], namespace_ref={"namespace_id": "missing"}
        )
    await both.sdk.update_namespace_async(namespace_id=there, state="ARCHIVED")
    with pytest.raises(errors.ConflictErrorResponseContent):
        await both.sdk.move_long_term_memories_async(
            memory_ids=["a"], namespace_ref={"namespace_id": there}
        )
    edited = await both.sdk.update_long_term_memory_async(
        memory_id="c", namespace_ref={"namespace_id": here}
    )
    assert edited.namespace_ref is not None and edited.namespace_ref.namespace_id == here


async def test_a_namespace_holding_memories_is_not_deleted(both: Both) -> None:
    box = await namespace(both, "box")
    await both.sdk.bulk_create_long_term_memories_async(
        memories=[record("in-box", "kept in the box", namespace_ref={"namespace_id": box})]  # type: ignore[list-item]
    )
    with pytest.raises(errors.ConflictErrorResponseContent):
        await both.sdk.delete_namespace_async(namespace_id=box)
    await both.sdk.bulk_delete_long_term_memories_async(memory_ids=["in-box"])
    await both.sdk.delete_namespace_async(namespace_id=box)


async def test_update_fields_asserts_the_placement(both: Both) -> None:
    box = await namespace(both, "box")
    await both.sdk.bulk_create_long_term_memories_async(
        memories=[record("f", "draft", namespace_ref={"namespace_id": box})]  # type: ignore[list-item]
    )
    with pytest.raises(errors.APIError) as caught:  # omitting both asserts "no placement"
        await both.sdk.update_long_term_memory_fields_async(
            memory_id="f", memory_type="semantic", text="final"
        )
    assert caught.value.status_code == 409
    await both.sdk.update_long_term_memory_fields_async(
        memory_id="f", memory_type="semantic", text="final", namespace_ref={"namespace_id": box}
    )
    assert (await both.sdk.get_long_term_memory_async(memory_id="f")).text == "final"


async def test_one_text_in_two_places_stays_two_memories_and_merges_within_one(
    both: Both,
) -> None:
    """Dedup merges copies of a text only within one place: a merge across namespace
    resources (or labels) would take a memory out of the place its writer put it in."""
    here, there = await namespace(both, "here"), await namespace(both, "there")
    made = await both.sdk.bulk_create_long_term_memories_async(
        memories=[
            record("h1", "The office is in Lyon.", namespace_ref={"namespace_id": here}),
            record("t1", "the office is in lyon", namespace_ref={"namespace_id": there}),
            record("n1", "The office is in Lyon"),  # the store itself: a third place
            record("h2", "the office is in Lyon!", namespace_ref={"namespace_id": here}),
        ]  # type: ignore[list-item]
    )
    assert made.created == ["h1", "t1", "n1", "h1"]  # h2 is a copy of h1, in h1's place
    again = await both.sdk.bulk_create_long_term_memories_async(
        memories=[record("t2", "THE OFFICE IS IN LYON", namespace_ref={"namespace_id": there})]  # type: ignore[list-item]
    )
    assert again.created == ["t1"]

    async def placed(where: str) -> list[str]:
        found = await both.sdk.search_long_term_memory_async(
            request={"filter": {"namespace_ref": {"eq": where}}, "limit": 100}
        )
        return sorted(m.id for m in found.items)

    assert await placed(here) == ["h1"] and await placed(there) == ["t1"]
    # Compaction (the AMS API's, over the whole store) keeps the three places apart too.
    async with httpx.AsyncClient(base_url=both.url) as http:
        compacted = await http.post("/v1/long-term-memory/compact", params={"namespace": "store-s"})
        assert compacted.status_code == 200, compacted.text
        assert "3 memories remaining" in compacted.json()["status"]
        # ...and still merges copies within one place that were stored apart.
        stored = await http.post(
            "/v1/long-term-memory/",
            json={
                "memories": [
                    {"id": "h3", "text": "the office is in lyon", "namespace": "store-s",
                     "user_id": "alice", "namespace_id": here},
                ],
                "deduplicate": False,
            },
        )  # fmt: skip
        assert stored.status_code == 200, stored.text
        assert await placed(here) == ["h1", "h3"]
        compacted = await http.post("/v1/long-term-memory/compact", params={"namespace": "store-s"})
        assert "3 memories remaining" in compacted.json()["status"]
    assert await placed(here) == ["h1"] and await placed(there) == ["t1"]


@pytest.mark.parametrize("full", [True, False])
def test_a_hit_s_json_is_what_its_model_serialises(full: bool) -> None:
    """``records.memory_json`` (a search's items) answers as ``records.memory`` serialises."""
    from pydantic_core import to_json

    from remem.api.routers.managed import records as managed_records
    from remem.models.memory import MemoryRecord

    tree = {
        "t": {"namespaceId": "t", "name": "team", "parentId": None, "state": "ACTIVE"},
        "n": {"namespaceId": "n", "name": "notes", "parentId": "t", "state": "ACTIVE"},
    }
    more: dict[str, Any] = {}
    if full:
        more = {
            "session_id": "s1", "user_id": "alice", "namespace_label": "Work", "namespace_id": "n",
            "topics": ["tea", "é"], "metadata": {"attributes": {"k": None, "n": [1, {"x": None}]}},
        }  # fmt: skip
    record = MemoryRecord(id="m 1", text="Alice likes tea", namespace="store", **more)
    model = managed_records.memory(record, tree)
    assert (
        to_json(managed_records.memory_json(record, tree))
        == model.model_dump_json(by_alias=True, exclude_none=True).encode()
    )
    assert ("namespaceRef" in model.model_dump(by_alias=True, exclude_none=True)) is full
