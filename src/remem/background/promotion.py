"""Promotion: structured memories put into a session's working memory move to long-term memory.

A memory item of the session whose ``persisted_at`` is empty is created in long-term memory
through the ordinary create path (its deduplication rules, its id kept), with the session's
namespace, user and session id where the item names none: the upstream server loses that scope
on this path, remem keeps it. The item is then marked persisted by an atomic patch of that item
alone (``WorkingMemoryStore.mark``): an item a concurrent PUT replaced or changed in between
keeps its empty ``persisted_at`` and is promoted by the run that PUT schedules.

A memory whose id another namespace or user owns is not promoted and stays unpersisted (the
owner's memory is never touched); the session's other memories are promoted all the same.

A run killed between create and mark is simply run again: create with the same ids updates the
memories it made, so no record is doubled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from remem.errors import Conflict
from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.store.working import Session, WorkingMemoryStore

log = logging.getLogger(__name__)


def stamp() -> str:
    """Now, as the document's other dates are written (pydantic's JSON form of a UTC time)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def in_scope(record: MemoryRecord, session: Session) -> MemoryRecord:
    """``record`` with the session's namespace, user and id filled in where it has none."""
    return record.model_copy(
        update={
            "namespace": record.namespace or session.namespace,
            "user_id": record.user_id or session.user_id,
            "session_id": record.session_id or session.session_id,
        }
    )


@dataclass
class Promoter:
    working: WorkingMemoryStore
    long_term: LongTermMemoryService

    async def promote(self, session: Session) -> int:
        """Promote the session's unpersisted memories; how many were marked persisted."""
        pending = await self.working.pending(session, "memories", "persisted_at", None)
        if not pending.items:
            return 0
        at = stamp()
        records = [
            in_scope(MemoryRecord.model_validate({**item, "persisted_at": at}), session)
            for item in pending.items
        ]
        try:
            await self.long_term.create(records)
            done = pending.raw
        except Conflict:  # create refuses the whole batch: one by one, so one id holds none back
            done = []
            for record, raw in zip(records, pending.raw, strict=True):
                try:
                    await self.long_term.create([record])
                    done.append(raw)
                except Conflict as exc:  # left unpersisted; retrying cannot help
                    log.warning("memory %r of a session not promoted: %s", record.id, exc.detail)
        return await self.working.mark(session, "memories", "persisted_at", at, done)
