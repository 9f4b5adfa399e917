"""Start-up upkeep of the long-term memories: ``attribute_tags`` (``attributes``) for the
memories written before remem derived them, which ``filter.attributes`` would otherwise not find
until written again.

Idempotent and cheap once done: the first start of a remem with this step reads every memory's
``metadata`` and ``attribute_tags`` (a SCAN and one read a batch; nothing for a store with no
memories) and rewrites only those whose tags differ from what their metadata gives, each
through ``MemoryDocuments.modify``: under WATCH, the document as it is (its tags derived on the
write), so a write that comes between is kept, never overwritten. Then a key says it is done,
and every later start reads only that key. Concurrent starts may both do the work: each rewrite
checks again under WATCH.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from remem.errors import Conflict
from remem.store.longterm.attributes import ATTRIBUTE_TAGS, attribute_tags
from remem.store.query import MATCH_ALL

if TYPE_CHECKING:
    from remem.store.longterm import LongTermStore

log = logging.getLogger(__name__)
BATCH = 500


def stale(doc: dict[str, Any]) -> bool:
    """Whether a memory's stored tags are not the ones its metadata gives."""
    return set(attribute_tags(doc.get("metadata"))) != set(doc.get(ATTRIBUTE_TAGS) or ())


async def backfill_attribute_tags(store: LongTermStore, *, batch: int = BATCH) -> int | None:
    """Derive ``attribute_tags`` for every memory lacking its own; how many were rewritten
    (None: done before, nothing read)."""
    marker = store.keys.attribute_tags_backfilled
    if await store.redis.exists(marker):
        return None
    started, fixed = time.perf_counter(), 0
    documents = store.documents
    if await store.index.count(MATCH_ALL):
        async for ids in documents.scan_ids(batch):
            rows = await documents.get_fields(ids, ("metadata", ATTRIBUTE_TAGS))
            for memory_id, row in zip(ids, rows, strict=True):
                if row is not None and stale(row):
                    fixed += await _rewrite(store, memory_id)
    await store.redis.set(marker, int(time.time()))
    if fixed:
        log.info(
            "derived attribute_tags for %d long-term memories written before them (%.1f s)",
            fixed,
            time.perf_counter() - started,
        )
    return fixed


async def _rewrite(store: LongTermStore, memory_id: str) -> bool:
    """Write the memory again as it is, its tags derived, if they are still stale. A memory
    written concurrently many times over (``Conflict``) has had its tags derived by those writes."""
    try:
        written = await store.documents.modify(memory_id, lambda doc: doc if stale(doc) else None)
    except Conflict:
        return False
    return written is not None
