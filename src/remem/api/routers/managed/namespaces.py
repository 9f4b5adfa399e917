"""The managed API's namespace resources: ``/v1/stores/{storeId}/namespaces``.

A store's namespaces are a tree kept by ``store.namespace_tree`` (one hash per store, each change
one script): roots (``PERSONAL`` with an owner, or ``SHARED``) and their children, a ``path``
made of the names from the root. Sibling names are unique, an archived namespace takes no
children, no placement and no change, and only an empty leaf (no children, no memory and no
session placed in it) is deleted (409 otherwise). A caller bound to one user may not use
them (403): they are the store's, shared by its users.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from ulid import ULID

from remem.api.deps import long_term_memory
from remem.api.routers.managed.paging import next_token, offset_of
from remem.api.routers.managed.records import path_of
from remem.api.routers.managed.sessions import session_events
from remem.api.routers.managed.wire import STORE, answer, no_content
from remem.auth import guard
from remem.errors import Conflict, Forbidden, InvalidInput, NotFound
from remem.memory.events import SessionEvents
from remem.memory.longterm import LongTermMemoryService
from remem.models.bounds import MAX_COUNT
from remem.models.managed_namespaces import (
    CreateNamespace,
    Namespace,
    NamespaceAnswer,
    NamespacePage,
    UpdateNamespace,
)
from remem.models.search import SearchRequest, TagFilter
from remem.runtime import Resources
from remem.store.namespace_tree import NamespaceTree

router = APIRouter(tags=["managed API: namespaces"])
NAMESPACES = "/v1/stores/{storeId}/namespaces"
NAMESPACE = Path(alias="namespaceId")


async def namespace_tree(request: Request) -> NamespaceTree:
    res: Resources = request.app.state.resources
    return NamespaceTree(res.redis, res.keys)


Tree = Depends(namespace_tree)


def _store(store_id: str, *, write: bool = False) -> str:
    namespace, user, _ = guard.store(store_id, write=write)
    if user is not None:
        raise Forbidden("a store's namespaces are shared by its users: this caller is bound to one")
    return namespace


def _wire(records: dict[str, dict[str, Any]], record: dict[str, Any]) -> Namespace:
    return Namespace(
        namespace_id=record["namespaceId"],
        name=record["name"],
        root_id=record["rootId"],
        scope=record["scope"],
        state=record["state"],
        revision=record["revision"],
        created_at=record["createdAt"] / 1000,
        updated_at=record["updatedAt"] / 1000,
        path=path_of(records, record),
        parent_id=record["parentId"] or None,
        owner_id=record["ownerId"] or None,
    )


async def _one(tree: NamespaceTree, store: str, namespace_id: str) -> NamespaceAnswer:
    records = await tree.all(store)
    if namespace_id not in records:
        raise NotFound(f"namespace {namespace_id!r} not found")
    return NamespaceAnswer(namespace=_wire(records, records[namespace_id]))


@router.get(NAMESPACES, response_model=NamespacePage)
async def list_namespaces(
    store_id: str = STORE,
    parent_id: str | None = Query(None, alias="parentId", min_length=1),
    scope: str | None = Query(None, pattern="^(PERSONAL|SHARED)$"),
    owner_id: str | None = Query(None, alias="ownerId", min_length=1),
    limit: int = Query(100, ge=1, le=1000),
    page_token: str | None = Query(None, alias="pageToken", max_length=200),
    tree: NamespaceTree = Tree,
) -> Response:
    """The roots (by ``scope`` and ``ownerId``), or the children of ``parentId``, oldest
    first."""
    if parent_id is not None and (scope is not None or owner_id is not None):
        raise InvalidInput("parentId does not combine with scope or ownerId")
    store = _store(store_id)
    records = await tree.all(store)
    if parent_id is not None and parent_id not in records:
        raise NotFound(f"namespace {parent_id!r} not found")
    chosen = [
        r
        for r in records.values()
        if r["parentId"] == (parent_id or "")
        and (scope is None or r["scope"] == scope)
        and (owner_id is None or r["ownerId"] == owner_id)
    ]
    chosen.sort(key=lambda r: (r["createdAt"], r["namespaceId"]))
    offset = offset_of(page_token, MAX_COUNT)
    page = [_wire(records, r) for r in chosen[offset : offset + limit]]
    token = next_token(offset, len(page), limit, len(chosen))
    return answer(NamespacePage(items=page, next_page_token=token))


def _segments(body: CreateNamespace) -> tuple[list[str], str]:
    """The names to make and the parent they start under (409s are the script's)."""
    if body.path is not None:
        if body.name is not None or body.parent_id is not None:
            raise InvalidInput("path is exclusive with name and parentId")
        names = body.path.strip("/").split("/")
        if not all(names) or any(len(n) > 128 for n in names):
            raise InvalidInput("path must be names of 1 to 128 characters separated by /")
        return names, ""
    if body.name is None:
        raise InvalidInput("name (with scope, or parentId) or path is required")
    if body.parent_id is not None and (body.scope is not None or body.owner_id is not None):
        raise InvalidInput("a child namespace takes its scope and owner from its root")
    if body.parent_id is None and body.scope is None:
        raise InvalidInput("a root namespace needs a scope")
    return [body.name], body.parent_id or ""


@router.post(NAMESPACES, response_model=NamespaceAnswer, status_code=201)
async def create_namespace(
    body: CreateNamespace, store_id: str = STORE, tree: NamespaceTree = Tree
) -> Response:
    """A root (``name`` and ``scope``; ``ownerId`` for ``PERSONAL`` only), a child (``name``
    and ``parentId``), or every missing namespace of a ``path`` (``SHARED`` unless ``scope``
    says otherwise). 409 when the place is taken, archived or not."""
    store = _store(store_id, write=True)
    names, parent = _segments(body)
    scope = body.scope or "SHARED"
    if not parent and (scope == "PERSONAL") != (body.owner_id is not None):
        raise InvalidInput("ownerId is required for a PERSONAL root and refused for a SHARED one")
    made = await tree.create(
        store,
        [(name, str(ULID())) for name in names],
        parent_id=parent,
        scope=scope,
        owner_id=body.owner_id or "",
        now_ms=int(time.time() * 1000),
    )
    return answer(await _one(tree, store, made), status_code=201)


@router.get(f"{NAMESPACES}/{{namespaceId}}", response_model=NamespaceAnswer)
async def get_namespace(
    namespace_id: str = NAMESPACE, store_id: str = STORE, tree: NamespaceTree = Tree
) -> Response:
    return answer(await _one(tree, _store(store_id), namespace_id))


@router.patch(f"{NAMESPACES}/{{namespaceId}}", response_model=NamespaceAnswer)
async def update_namespace(
    body: UpdateNamespace,
    namespace_id: str = NAMESPACE,
    store_id: str = STORE,
    tree: NamespaceTree = Tree,
) -> Response:
    """Rename and/or archive (there is no unarchive); 409 for an archived namespace or a
    sibling's name."""
    if body.name is None and body.state is None:
        raise InvalidInput("name or state is required")
    store = _store(store_id, write=True)
    now = int(time.time() * 1000)
    await tree.update(
        store, namespace_id, name=body.name or "", archive=body.state == "ARCHIVED", now_ms=now
    )
    return answer(await _one(tree, store, namespace_id))


async def placed(service: LongTermMemoryService, store: str, namespace_id: str) -> int:
    """How many of the store's memories are placed in ``namespace_id`` (superseded ones too)."""
    asked = SearchRequest(
        namespace=TagFilter(eq=store),
        namespace_id=TagFilter(eq=namespace_id),
        search_mode="keyword",
        include_superseded=True,
        limit=1,
    )
    return (await service.search(asked)).total


@router.delete(f"{NAMESPACES}/{{namespaceId}}", status_code=204, response_class=Response)
async def delete_namespace(
    namespace_id: str = NAMESPACE,
    store_id: str = STORE,
    tree: NamespaceTree = Tree,
    service: LongTermMemoryService = Depends(long_term_memory),
    events: SessionEvents = Depends(session_events),
) -> Response:
    """Delete an empty leaf: 409 for a namespace with children, or memories or sessions placed
    in it (asked just before the script that checks the children and deletes)."""
    store = _store(store_id, write=True)
    if namespace_id in await tree.all(store):
        if await placed(service, store, namespace_id):
            raise Conflict(f"namespace {namespace_id!r} holds memories: move or delete them first")
        if await events.placed(store, namespace_id):
            raise Conflict(f"namespace {namespace_id!r} holds sessions: delete them first")
    await tree.delete(store, namespace_id)
    return no_content()
