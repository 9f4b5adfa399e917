"""The managed API's deprecated ``namespace`` label on long-term memories, through the SDK over
HTTP: kept as written, read back, filtered by each operator without regard to case, changed by
PATCH, asserted by ``.../fields``, and refused beside ``namespaceRef``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis_agent_memory import errors

from tests.managed.conftest import Both


def record(memory_id: str, text: str, **kw: Any) -> dict[str, Any]:
    return {"id": memory_id, "text": text, "owner_id": "alice", **kw}


async def create(both: Both, *memories: dict[str, Any]) -> Any:
    return await both.sdk.bulk_create_long_term_memories_async(memories=list(memories))  # type: ignore[arg-type]


async def found(both: Both, filter_op: str = "all", **where: Any) -> list[str]:
    asked = {"filter": where, "filter_op": filter_op, "limit": 100}
    page = await both.sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
    return sorted(m.id for m in page.items)


async def labelled(both: Both) -> None:
    await create(
        both,
        record("w", "the team meets on mondays", namespace="Work"),
        record("w2", "the build breaks on fridays", namespace="WORK"),
        record("h", "the garden needs water", namespace="home"),
        record("n", "nothing labels this one"),
    )


async def test_a_label_is_kept_as_written_and_read_back(both: Both) -> None:
    await labelled(both)
    got = await both.sdk.get_long_term_memory_async(memory_id="w")
    assert got.namespace == "Work" and got.namespace_ref is None
    assert (await both.sdk.get_long_term_memory_async(memory_id="n")).namespace is None
    page = await both.sdk.search_long_term_memory_async(
        request={"text": "team mondays", "filter": {"namespace": {"eq": "work"}}}
    )
    assert {m.id: m.namespace for m in page.items} == {"w": "Work", "w2": "WORK"}
    async with httpx.AsyncClient(base_url=both.url) as http:  # the other API: additive
        old = (await http.get("/v1/long-term-memory/w")).json()
        assert old["namespace"] == "store-s" and old["namespace_label"] == "Work"
        assert "namespace_label" not in (await http.get("/v1/long-term-memory/n")).text


async def test_each_operator_without_regard_to_case(both: Both) -> None:
    await labelled(both)
    assert await found(both, namespace={"eq": "work"}) == ["w", "w2"]
    assert await found(both, namespace={"eq": "HOME"}) == ["h"]
    assert await found(both, namespace={"eq": "none-such"}) == []
    assert await found(both, namespace={"ne": "Work"}) == ["h", "n"]  # unlabelled ones too
    assert await found(both, namespace={"in": ["home", "wOrK"]}) == ["h", "w", "w2"]
    assert await found(both, namespace={"all": ["work", "WORK"]}) == ["w", "w2"]
    assert await found(both, namespace={"all": ["work", "home"]}) == []
    assert await found(both, namespace={"eq": "work"}, owner_id={"eq": "bob"}) == []
    either = {"namespace": {"eq": "home"}, "session_id": {"eq": "none-such"}}
    assert await found(both, "any", **either) == ["h"]


async def test_unnamespaced_means_no_label_and_no_placement(both: Both) -> None:
    await labelled(both)
    made = await both.sdk.create_namespace_async(request={"name": "team", "scope": "SHARED"})
    team = made.namespace.namespace_id
    await create(both, record("p", "placed, unlabelled", namespace_ref={"namespace_id": team}))
    assert await found(both, unnamespaced=True) == ["n"]
    # false: placed in a resource or labelled (the complement), paged over both
    assert await found(both, unnamespaced=False) == ["h", "p", "w", "w2"]
    pages, token = [], None
    while True:
        asked = {"filter": {"unnamespaced": False}, "limit": 3, "page_token": token}
        page = await both.sdk.search_long_term_memory_async(request=asked)  # type: ignore[arg-type]
        pages.append(sorted(m.id for m in page.items))
        if not (token := page.next_page_token):
            break
    assert len(pages) == 2 and sorted(i for p in pages for i in p) == ["h", "p", "w", "w2"]
    assert await found(both, unnamespaced=False, owner_id={"eq": "bob"}) == []
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await found(both, unnamespaced=True, namespace={"eq": "work"})


async def test_patch_changes_and_clears_the_label(both: Both) -> None:
    await labelled(both)
    edited = await both.sdk.update_long_term_memory_async(memory_id="n", namespace="Home")
    assert edited.namespace == "Home"
    assert await found(both, namespace={"eq": "home"}) == ["h", "n"]
    cleared = await both.sdk.update_long_term_memory_async(memory_id="h", namespace="")
    assert cleared.namespace is None
    assert await found(both, namespace={"eq": "home"}) == ["n"]
    assert await found(both, unnamespaced=True) == ["h"]
    kept = await both.sdk.update_long_term_memory_async(memory_id="w", text="the team meets")
    assert kept.namespace == "Work"  # a PATCH without it leaves it


async def test_update_fields_asserts_the_label(both: Both) -> None:
    await labelled(both)

    async def fields(memory_id: str, **asserted: Any) -> None:
        await both.sdk.update_long_term_memory_fields_async(
            memory_id=memory_id, memory_type="semantic", text="final", **asserted
        )

    for wrong in ({}, {"namespace": "home"}):  # omitting it asserts "no label"
        with pytest.raises(errors.APIError) as caught:
            await fields("w", **wrong)
        assert caught.value.status_code == 409
    await fields("w", namespace="WORK")  # any case
    assert (await both.sdk.get_long_term_memory_async(memory_id="w")).text == "final"
    await both.sdk.update_long_term_memory_async(memory_id="w", namespace="elsewhere")
    with pytest.raises(errors.APIError):
        await fields("w", namespace="work")
    await fields("w", namespace="Elsewhere")
    await fields("n")


async def test_a_label_with_a_namespace_ref_is_a_400(both: Both) -> None:
    made = await both.sdk.create_namespace_async(request={"name": "team", "scope": "SHARED"})
    ref = {"namespace_id": made.namespace.namespace_id}
    done = await create(both, record("x", "both", namespace="a", namespace_ref=ref))
    assert done.created == [] and [e.id for e in done.errors] == ["x"]
    assert "namespaceRef" in done.errors[0].error
    await create(both, record("y", "one"))
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await both.sdk.update_long_term_memory_async(
            memory_id="y", namespace="a", namespace_ref=ref
        )
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await both.sdk.update_long_term_memory_fields_async(
            memory_id="y", memory_type="semantic", namespace="a", namespace_ref=ref
        )


async def test_one_text_under_two_labels_stays_two_memories(both: Both) -> None:
    """Dedup merges copies only under one label (compared as the filter compares it, without
    regard to case): a merge would move a memory out from under its label."""
    made = await create(
        both,
        record("w", "the office is in Lyon", namespace="Work"),
        record("h", "The office is in Lyon.", namespace="home"),
        record("w2", "the office is in lyon", namespace="WORK"),  # the same label
        record("n", "the office is in Lyon"),  # no label
    )
    assert made.created == ["w", "h", "w", "n"]
    assert await found(both, namespace={"eq": "home"}) == ["h"]
    assert await found(both, namespace={"eq": "work"}) == ["w"]
