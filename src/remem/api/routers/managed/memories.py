"""The managed API's long-term memory: ``/v1/stores/{storeId}/long-term-memory``.

Records of a store are the long-term memories of its namespace (``records``): written, read,
edited, deleted and searched through remem's own service, so deduplication, facts that change
and forgetting treat them as any other memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from pydantic_core import to_json

from remem.api.deps import long_term_memory
from remem.api.lean import lean
from remem.api.routers.managed import records
from remem.api.routers.managed.namespaces import namespace_tree
from remem.api.routers.managed.search import search_store
from remem.api.routers.managed.wire import STORE, answer
from remem.auth import guard
from remem.auth.guard import Visible
from remem.errors import InvalidInput, NotFound, RememError
from remem.memory.longterm import LongTermMemoryService
from remem.models.managed import (
    BulkCreate,
    BulkCreated,
    BulkDelete,
    BulkDeleted,
    ItemError,
    Memory,
    MemoryEdit,
    MemoryFieldsEdit,
    Move,
    Moved,
    Search,
    SearchPage,
)
from remem.models.memory import MemoryRecord
from remem.models.search import EditMemoryRecordRequest, NewMemoryRecord
from remem.store.namespace_tree import NamespaceTree

router = APIRouter(tags=["managed API: long-term memory"])
MEMORIES = "/v1/stores/{storeId}/long-term-memory"
Service = Depends(long_term_memory)
Trees = Depends(namespace_tree)
MEMORY = Path(alias="memoryId")


async def stored(service: LongTermMemoryService, memory_id: str, in_store: Visible) -> MemoryRecord:
    """The memory, or NotFound when it is not the store's (or not the caller's to see)."""
    found = await service.get(memory_id, in_store)
    if not in_store(found.namespace, found.user_id):
        raise NotFound(f"memory {memory_id!r} not found")
    return found


@router.post(MEMORIES, response_model=BulkCreated, status_code=201)
async def bulk_create_long_term_memories(
    body: BulkCreate,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    """Store each memory (searchable on return), deduplicated as remem's create does;
    ``created`` names the memory that holds each one, ``errors`` the ones refused."""
    namespace, user, _ = guard.store(store_id, write=True)
    placed = any(m.namespace_ref is not None for m in body.memories)
    tree = await trees.all(namespace) if placed else {}
    ready: list[NewMemoryRecord] = []
    errors: list[ItemError] = []
    for sent in body.memories:
        try:
            if user is not None and sent.owner_id != user:
                raise InvalidInput(f"ownerId {sent.owner_id!r} is outside this caller's scope")
            ready.append(records.new_record(sent, namespace, tree))
        except RememError as exc:
            errors.append(ItemError(id=sent.id, error=exc.detail))
    created: list[str] = []
    try:
        created = [c.id for c in await service.create(ready)]
    except RememError as exc:  # one refused record refuses the batch: store them one by one
        if exc.status >= 500:
            raise
        for record in ready:
            try:
                created += [c.id for c in await service.create([record])]
            except RememError as one:
                if one.status >= 500:
                    raise
                errors.append(ItemError(id=record.id, error=one.detail))
    return answer(BulkCreated(created=created, errors=errors), status_code=201)


@router.delete(MEMORIES, response_model=BulkDeleted)
async def bulk_delete_long_term_memories(
    body: BulkDelete, store_id: str = STORE, service: LongTermMemoryService = Service
) -> Response:
    """Delete the memories named; one not in the store is an error of its own."""
    _, _, in_store = guard.store(store_id, write=True)
    ids = list(dict.fromkeys(body.memory_ids))

    async def exists(memory_id: str) -> bool:
        try:
            await stored(service, memory_id, in_store)
        except NotFound:
            return False
        return True

    found = await asyncio.gather(*(exists(memory_id) for memory_id in ids))
    there = [memory_id for memory_id, yes in zip(ids, found, strict=True) if yes]
    await service.delete(there, in_store)
    errors = [
        ItemError(id=i, error="not found") for i, yes in zip(ids, found, strict=True) if not yes
    ]
    return answer(BulkDeleted(deleted=there, errors=errors))


# Search skips FastAPI's general request handling (see api.lean), as the other API's does.
@lean(router, f"{MEMORIES}/search", "POST", response_model=SearchPage)
async def search_long_term_memory(
    body: Search,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    namespace, _, _ = guard.store(store_id)
    placing = body.filter is not None and body.filter.unnamespaced is not None
    tree = await trees.all(namespace) if placing else {}
    hits, token = await search_store(service, namespace, body, list(tree))
    if not tree and any(m.namespace_id for m in hits):
        tree = await trees.all(namespace)
    out: dict[str, Any] = {"items": [records.memory_json(m, tree) for m in hits]}  # SearchPage
    if token is not None:
        out["nextPageToken"] = token
    return Response(to_json(out), media_type="application/json")


@router.post(f"{MEMORIES}/move", response_model=Moved)
async def move_long_term_memories(
    body: Move,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    """Place each memory in the namespace resource ``namespaceRef`` (404 missing, 409
    archived); a memory not in the store is an error of its own."""
    namespace, _, in_store = guard.store(store_id, write=True)
    target = records.placement(await trees.all(namespace), body.namespace_ref.namespace_id)
    patch = EditMemoryRecordRequest(namespace_id=target)
    moved: list[str] = []
    errors: list[ItemError] = []
    for memory_id in dict.fromkeys(body.memory_ids):
        try:
            await service.update(memory_id, patch, in_store)
            moved.append(memory_id)
        except NotFound:
            errors.append(ItemError(id=memory_id, error="not found"))
    return answer(Moved(moved=moved, errors=errors))


async def _answer(record: MemoryRecord, trees: NamespaceTree, namespace: str) -> Response:
    tree = await trees.all(namespace) if record.namespace_id else {}
    return answer(records.memory(record, tree))


# Reading one memory skips FastAPI's general request handling (see api.lean), as the other
# API's read does.
@lean(router, f"{MEMORIES}/{{memoryId}}", "GET", response_model=Memory)
async def get_long_term_memory(
    memory_id: str = MEMORY,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    namespace, _, in_store = guard.store(store_id)
    return await _answer(await stored(service, memory_id, in_store), trees, namespace)


@router.patch(f"{MEMORIES}/{{memoryId}}", response_model=Memory)
async def update_long_term_memory(
    body: MemoryEdit,
    memory_id: str = MEMORY,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    """Change the fields sent (re-embedded when the text changes); ``namespaceRef`` moves it."""
    namespace, _, in_store = guard.store(store_id, write=True)
    tree = await trees.all(namespace) if body.namespace_ref is not None else {}
    patch = records.edit(body, tree)
    if patch is None:
        return await _answer(await stored(service, memory_id, in_store), trees, namespace)
    guard.edit(patch.model_fields_set, None, patch.user_id)
    return await _answer(await service.update(memory_id, patch, in_store), trees, namespace)


@router.patch(f"{MEMORIES}/{{memoryId}}/fields", response_model=Memory)
async def update_long_term_memory_fields(
    body: MemoryFieldsEdit,
    memory_id: str = MEMORY,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
    trees: NamespaceTree = Trees,
) -> Response:
    """Set ``text`` and ``attributes`` if the memory is still of ``memoryType`` and placed as
    asserted (409 if not). Both are checked on a read before the write, not under its WATCH."""
    namespace, _, in_store = guard.store(store_id, write=True)
    found = await stored(service, memory_id, in_store)
    patch = records.fields_edit(body, found)
    if patch is not None:
        found = await service.update(memory_id, patch, in_store)
    return await _answer(found, trees, namespace)
