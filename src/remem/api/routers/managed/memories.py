"""The managed API's long-term memory: ``/v1/stores/{storeId}/long-term-memory``.

Records of a store are the long-term memories of its namespace (``records``): written, read,
edited, deleted and searched through remem's own service, so deduplication, facts that change
and forgetting treat them as any other memory.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from remem.api.deps import long_term_memory
from remem.api.routers.managed import records
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
    Search,
    SearchPage,
)
from remem.models.memory import MemoryRecord
from remem.models.search import NewMemoryRecord

router = APIRouter(tags=["managed API: long-term memory"])
MEMORIES = "/v1/stores/{storeId}/long-term-memory"
Service = Depends(long_term_memory)
MEMORY = Path(alias="memoryId")


async def stored(service: LongTermMemoryService, memory_id: str, in_store: Visible) -> MemoryRecord:
    """The memory, or NotFound when it is not the store's (or not the caller's to see)."""
    found = await service.get(memory_id, in_store)
    if not in_store(found.namespace, found.user_id):
        raise NotFound(f"memory {memory_id!r} not found")
    return found


@router.post(MEMORIES, response_model=BulkCreated, status_code=201)
async def bulk_create_long_term_memories(
    body: BulkCreate, store_id: str = STORE, service: LongTermMemoryService = Service
) -> Response:
    """Store each memory (searchable on return), deduplicated as remem's create does;
    ``created`` names the memory that holds each one, ``errors`` the ones refused."""
    namespace, user, _ = guard.store(store_id, write=True)
    ready: list[NewMemoryRecord] = []
    errors: list[ItemError] = []
    for sent in body.memories:
        try:
            if user is not None and sent.owner_id != user:
                raise InvalidInput(f"ownerId {sent.owner_id!r} is outside this caller's scope")
            ready.append(records.new_record(sent, namespace))
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


@router.post(f"{MEMORIES}/search", response_model=SearchPage)
async def search_long_term_memory(
    body: Search, store_id: str = STORE, service: LongTermMemoryService = Service
) -> Response:
    namespace, _, _ = guard.store(store_id)
    return answer(await search_store(service, namespace, body))


@router.get(f"{MEMORIES}/{{memoryId}}", response_model=Memory)
async def get_long_term_memory(
    memory_id: str = MEMORY, store_id: str = STORE, service: LongTermMemoryService = Service
) -> Response:
    _, _, in_store = guard.store(store_id)
    return answer(records.memory(await stored(service, memory_id, in_store)))


@router.patch(f"{MEMORIES}/{{memoryId}}", response_model=Memory)
async def update_long_term_memory(
    body: MemoryEdit,
    memory_id: str = MEMORY,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
) -> Response:
    """Change the fields sent (re-embedded when the text changes)."""
    _, _, in_store = guard.store(store_id, write=True)
    patch = records.edit(body)
    if patch is None:
        return answer(records.memory(await stored(service, memory_id, in_store)))
    guard.edit(patch.model_fields_set, None, patch.user_id)
    return answer(records.memory(await service.update(memory_id, patch, in_store)))


@router.patch(f"{MEMORIES}/{{memoryId}}/fields", response_model=Memory)
async def update_long_term_memory_fields(
    body: MemoryFieldsEdit,
    memory_id: str = MEMORY,
    store_id: str = STORE,
    service: LongTermMemoryService = Service,
) -> Response:
    """Set ``text`` and ``attributes`` if the memory is still of ``memoryType`` (409 if not).
    The type is checked on a read before the write, not under the write's WATCH."""
    _, _, in_store = guard.store(store_id, write=True)
    found = await stored(service, memory_id, in_store)
    patch = records.fields_edit(body, found)
    if patch is None:
        return answer(records.memory(found))
    return answer(records.memory(await service.update(memory_id, patch, in_store)))
