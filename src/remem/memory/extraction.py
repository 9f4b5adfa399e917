"""Extraction: a session's new messages become long-term memories.

A run takes only the messages not yet extracted (``discrete_memory_extracted`` is not "t"),
with a few messages before them as context, hands them to an ``Extractor``, stores what it
returns through the ordinary create path, and then marks those messages extracted by an atomic
patch of the messages alone (``WorkingMemoryStore.mark``): a message a concurrent PUT replaced
or changed keeps its mark "f" and is taken by the next run, which every write schedules
(``tasks.queue``), so the last turns of a conversation are always extracted.

Every record keeps the session's namespace, user and session id, and ``extracted_from`` names
the messages it came from (the upstream server's per-record extraction loses the scope).

Without an LLM, ``VerbatimExtractor`` makes one episodic memory per message, its text the
message as "role: content" (the form of the upstream server's message memories). Its ids are
derived from the session and message ids, so a run repeated after a crash, or after a client
PUT the messages back unmarked, updates the same memories instead of adding copies.
One memory per message, its keyword text (``search_text``) the message's date and the two
messages before it, chosen on LoCoMo (``bench/locomo_extraction.py``: the five development
conversations, 2,760 turns, 760 questions, evidence recall with hybrid search). At the same
prompt size (10 turns returned) that finds 0.755 of the evidence, against 0.664 for the message
alone and 0.675 for windows of three turns as the memory's text (20 turns: 0.815, 0.727,
0.757). Windows win only at a fixed number of memories (0.807 at 10), because each carries three
turns into the prompt, and they store three times the text. The context is what a run knows:
the messages before a new one (three before: 0.746).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import NewMemoryRecord
from remem.models.working import MemoryMessage, MemoryStrategyConfig
from remem.store.working import Session, WorkingMemoryStore

CONTEXT_MESSAGES = 4  # messages before the new ones handed to the extractor as context
VERBATIM_CONTEXT = 2  # messages before one that its verbatim memory's keyword text adds


@dataclass(frozen=True)
class Batch:
    """What an extractor sees: the new messages of one session and a little before them."""

    session: Session
    strategy: MemoryStrategyConfig
    messages: Sequence[MemoryMessage]
    context: Sequence[MemoryMessage] = ()


class Extractor(Protocol):
    """Turns a batch of messages into memory records. Scope and ``extracted_from`` are filled
    in by the caller where a record leaves them empty; a record's id should be stable for the
    same messages, so a batch extracted twice (a worker killed before marking) updates the
    records of the first run instead of adding copies."""

    async def extract(self, batch: Batch) -> list[MemoryRecord]: ...


def message_memory_id(session: Session, message_id: str) -> str:
    """A stable id for the memory made from one message (message ids are the client's, unique
    within a session only)."""
    parts = "\x1f".join((session.namespace or "", session.user_id or "", session.session_id))
    digest = hashlib.sha256(f"{parts}\x1e{message_id}".encode()).hexdigest()
    return f"msg-{digest[:32]}"


@dataclass
class VerbatimExtractor:
    """No LLM: each message becomes an episodic memory of its own words."""

    async def extract(self, batch: Batch) -> list[MemoryRecord]:
        said = [f"{m.role}: {m.content}" for m in (*batch.context, *batch.messages)]
        first = len(batch.context)
        return [
            NewMemoryRecord(
                id=message_memory_id(batch.session, message.id),
                text=said[first + i],
                search_text="\n".join(
                    [
                        message.created_at.strftime("%d %B %Y"),
                        *said[max(0, first + i - VERBATIM_CONTEXT) : first + i + 1],
                    ]
                ),
                memory_type=MemoryTypeEnum.EPISODIC,
                event_date=message.created_at,
                extracted_from=[message.id],
                extraction_strategy=batch.strategy.strategy,
                extraction_strategy_config=batch.strategy.config,
            )
            for i, message in enumerate(batch.messages)
        ]


def scoped(record: MemoryRecord, batch: Batch) -> MemoryRecord:
    """``record`` bound to the batch's session, naming its messages if it names none, and true
    from when the last of them was said (its ``valid_at``, unless it has one or an
    ``event_date``): a conversation extracted later still dates its facts by the messages."""
    sources = record.extracted_from or [m.id for m in batch.messages]
    said = [m.created_at for m in batch.messages if m.id in set(sources)]
    valid_at = record.valid_at
    if valid_at is None and record.event_date is None and said:
        valid_at = max(said)
    return record.model_copy(
        update={
            "namespace": batch.session.namespace,
            "user_id": batch.session.user_id,
            "session_id": batch.session.session_id,
            "extracted_from": sources,
            "discrete_memory_extracted": "t",
            "valid_at": valid_at,
        }
    )


@dataclass
class Extraction:
    working: WorkingMemoryStore
    long_term: LongTermMemoryService
    extractor: Extractor = field(default_factory=VerbatimExtractor)

    async def run(self, session: Session) -> int:
        """Extract the session's messages not yet extracted; how many were marked."""
        pending = await self.working.pending(
            session, "messages", "discrete_memory_extracted", "f", CONTEXT_MESSAGES
        )
        if not pending.items:
            return 0
        doc_strategy = await self.working.strategy(session)
        batch = Batch(
            session=session,
            strategy=MemoryStrategyConfig.model_validate(doc_strategy or {}),
            messages=[MemoryMessage.model_validate(m) for m in pending.items],
            context=[MemoryMessage.model_validate(m) for m in pending.context],
        )
        records = [scoped(r, batch) for r in await self.extractor.extract(batch)]
        await self.long_term.create(records, server_made=True)  # its ids: mergeable
        return await self.working.mark(
            session, "messages", "discrete_memory_extracted", "t", pending.raw
        )

    async def left(self, session: Session) -> bool:
        """Whether the session has messages not yet extracted (arrived during a run)."""
        pending = await self.working.pending(session, "messages", "discrete_memory_extracted", "f")
        return bool(pending.items)
