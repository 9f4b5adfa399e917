"""Namespace resources through the managed SDK: a tree per store, with its 409 rules."""

from __future__ import annotations

import pytest
from redis_agent_memory import errors

from tests.managed.conftest import Both


async def test_roots_children_and_paths(both: Both) -> None:
    sdk = both.sdk
    team = (await sdk.create_namespace_async(request={"name": "team", "scope": "SHARED"})).namespace
    assert (team.path, team.scope, team.state, team.revision) == ("team", "SHARED", "ACTIVE", 1)
    assert team.root_id == team.namespace_id and team.parent_id is None
    child = (
        await sdk.create_namespace_async(request={"name": "notes", "parent_id": team.namespace_id})
    ).namespace
    assert child.path == "team/notes" and child.root_id == team.namespace_id
    deep = (await sdk.create_namespace_async(request={"path": "team/notes/2026/march"})).namespace
    assert deep.path == "team/notes/2026/march" and deep.scope == "SHARED"
    mine = await sdk.create_namespace_async(
        request={"name": "alice", "scope": "PERSONAL", "owner_id": "alice"}
    )
    assert mine.namespace.owner_id == "alice"
    got = await sdk.get_namespace_async(namespace_id=deep.namespace_id)
    assert got.namespace == deep
    roots = await sdk.list_namespaces_async()
    assert [n.name for n in roots.items] == ["team", "alice"]
    shared = await sdk.list_namespaces_async(scope="SHARED")
    assert [n.name for n in shared.items] == ["team"]
    personal = await sdk.list_namespaces_async(owner_id="alice")
    assert [n.name for n in personal.items] == ["alice"]
    children = await sdk.list_namespaces_async(parent_id=team.namespace_id)
    assert [n.path for n in children.items] == ["team/notes"]
    assert (await both.store("store-t").list_namespaces_async()).items == []


async def test_paging_namespaces(both: Both) -> None:
    for i in range(5):
        await both.sdk.create_namespace_async(request={"name": f"n{i}", "scope": "SHARED"})
    seen, token = [], None
    while True:
        page = await both.sdk.list_namespaces_async(limit=2, page_token=token)
        seen += [n.name for n in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [f"n{i}" for i in range(5)]


async def test_the_409_rules(both: Both) -> None:
    sdk = both.sdk
    root = (await sdk.create_namespace_async(request={"name": "root", "scope": "SHARED"})).namespace
    leaf = (
        await sdk.create_namespace_async(request={"name": "leaf", "parent_id": root.namespace_id})
    ).namespace
    other = (
        await sdk.create_namespace_async(request={"name": "other", "parent_id": root.namespace_id})
    ).namespace
    with pytest.raises(errors.ConflictErrorResponseContent) as caught:  # a sibling's name
        await sdk.create_namespace_async(request={"name": "leaf", "parent_id": root.namespace_id})
    assert caught.value.data.type == "/errors/conflict"
    with pytest.raises(errors.ConflictErrorResponseContent):
        await sdk.update_namespace_async(namespace_id=other.namespace_id, name="leaf")
    with pytest.raises(errors.ConflictErrorResponseContent):  # has children
        await sdk.delete_namespace_async(namespace_id=root.namespace_id)
    renamed = await sdk.update_namespace_async(namespace_id=other.namespace_id, name="renamed")
    assert renamed.namespace.path == "root/renamed" and renamed.namespace.revision == 2
    archived = await sdk.update_namespace_async(namespace_id=leaf.namespace_id, state="ARCHIVED")
    assert archived.namespace.state == "ARCHIVED"
    with pytest.raises(errors.ConflictErrorResponseContent):  # already archived
        await sdk.update_namespace_async(namespace_id=leaf.namespace_id, state="ARCHIVED")
    with pytest.raises(errors.ConflictErrorResponseContent):  # no children under it
        await sdk.create_namespace_async(request={"name": "inner", "parent_id": leaf.namespace_id})
    with pytest.raises(errors.ConflictErrorResponseContent):  # an archived one holds the place
        await sdk.create_namespace_async(request={"path": "root/leaf"})
    await sdk.delete_namespace_async(namespace_id=leaf.namespace_id)
    await sdk.delete_namespace_async(namespace_id=other.namespace_id)
    await sdk.delete_namespace_async(namespace_id=root.namespace_id)
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await sdk.get_namespace_async(namespace_id=root.namespace_id)


async def test_invalid_namespace_requests_are_400s(both: Both) -> None:
    sdk = both.sdk
    for bad in (
        {"name": "x"},  # a root needs a scope
        {"name": "x", "scope": "PERSONAL"},  # and an owner when personal
        {"name": "x", "scope": "SHARED", "owner_id": "alice"},
        {"name": "a/b", "scope": "SHARED"},
        {"path": "a//b"},
        {"path": "a", "name": "b"},
    ):
        with pytest.raises(errors.BadRequestErrorResponseContent):
            await sdk.create_namespace_async(request=bad)  # type: ignore[arg-type]
    with pytest.raises(errors.NotFoundErrorResponseContent):
        await sdk.create_namespace_async(request={"name": "x", "parent_id": "nope"})
    with pytest.raises(errors.BadRequestErrorResponseContent):
        await sdk.list_namespaces_async(parent_id="p", scope="SHARED")
