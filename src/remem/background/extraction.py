"""Extraction: a session's new messages become long-term memories.

A run takes only the messages not yet extracted (``discrete_memory_extracted`` is not "t"),
with a few messages before them as context, hands them to an ``Extractor``, stores what it
returns through the ordinary create path, and then marks those messages extracted by an atomic
patch of the messages alone (``WorkingMemoryStore.mark``): a message a concurrent PUT replaced
or changed keeps its mark "f" and is taken by the next run, which every write schedules
(``tasks.queue``), so the last turns of a conversation are always extracted.

Every record keeps the session's namespace, user and session id (and the session's placement in
a managed API namespace resource, ``namespace_id``, while that namespace is active), and
``extracted_from`` names the messages it came from (the upstream server's per-record extraction
loses the scope).

Without an LLM, ``VerbatimExtractor`` makes one episodic memory per message, its text the
message as "role: content" (the form of the upstream server's message memories), its ``role``
the message's. Its ids are derived from the session and message ids, so a run repeated after a
crash, or after a client PUT the messages back unmarked, updates the same memories instead of
adding copies. One memory per message, its keyword text (``search_text``) the message's date,
the two messages before it and (see below) the two after it, chosen on LoCoMo
(``bench/locomo_extraction.py``: the five development conversations, 2,760 turns, 760 questions,
evidence recall with hybrid search). At the same prompt size (10 turns returned) that finds
0.755 of the evidence, against 0.664 for the message alone and 0.675 for windows of three turns
as the memory's text (20 turns: 0.815, 0.727, 0.757). Windows win only at a fixed number of
memories (0.807 at 10), because each carries three turns into the prompt, and they store three
times the text. The context is what a run knows: the messages before a new one (three before:
0.746).

Measured end to end since (``eval/locomo_e2e.py``: the conversations written into working
memory a session at a time, extracted by the background task, searched as the official client
asks; hybrid recall@10, speaker_a as the user and speaker_b as the assistant):

- the keyword text also holds the two messages *after* a message, once they are known: a run
  that has them in its batch adds them; a run whose new messages follow earlier ones rewrites
  the memories of the last two messages before them (``VERBATIM_AFTER``), so a conversation
  written one turn at a time ends with the same keyword texts as one written at once. 0.742 ->
  0.751 alone (three after: 0.780 against 0.786 for two, with the speaker below; three before
  and three after: 0.774). The memories' text and vector stay the message's own.
- the speaker a "Name: words" message names (one to three capitalised words before a colon,
  as transcripts and group chats write it) becomes the memory's entity, so a question naming
  that person prefers what they said (``memory.search``, entity boost): 0.742 -> 0.770 alone,
  0.786 with the messages after. Every capitalised word as an entity lowered it (0.773).
- ``role``: the message's role, so that a question in the first person can prefer the user's
  own words (``memory.search``, first-person boost) and a search can filter by who spoke.
- embedding the message with the one before it lowered hybrid recall@10 (0.734 against
  0.742), and without the "role: " prefix it changed little (0.747, semantic 0.549 -> 0.536):
  the vector stays that of the memory's text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from opentelemetry.trace import Span

from remem import tracing
from remem.errors import NotFound
from remem.foreground import Foreground
from remem.memory.longterm import LongTermMemoryService
from remem.metrics import LAG_SECONDS
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import EditMemoryRecordRequest, NewMemoryRecord
from remem.models.working import MemoryMessage, MemoryStrategyConfig
from remem.store.namespace_tree import NamespaceTree
from remem.store.working import Session, WorkingMemoryStore

CONTEXT_MESSAGES = 4  # messages before the new ones handed to the extractor as context
VERBATIM_CONTEXT = 2  # messages before one that its verbatim memory's keyword text adds
VERBATIM_AFTER = 2  # messages after it that the keyword text adds, once they are known


@dataclass(frozen=True)
class Batch:
    """What an extractor sees: the new messages of one session and a little before them."""

    session: Session
    strategy: MemoryStrategyConfig
    messages: Sequence[MemoryMessage]
    context: Sequence[MemoryMessage] = ()
    namespace_id: str | None = None  # the session's placement (the managed API's namespaceRef)
    namespace_label: str | None = None  # the session's managed API label (deprecated)


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


SPEAKER = re.compile(r"([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2}): \S")


def speaker_of(content: str) -> str | None:
    """The name a "Name: words" message starts with (one to three capitalised words), as a
    transcript or a group chat writes who speaks."""
    match = SPEAKER.match(content)
    return match.group(1) if match else None


@dataclass
class VerbatimExtractor:
    """No LLM: each message becomes an episodic memory of its own words (see the module
    docstring for its keyword text, entities and role)."""

    async def extract(self, batch: Batch) -> list[MemoryRecord]:
        messages = (*batch.context, *batch.messages)
        said = [f"{m.role}: {m.content}" for m in messages]
        first = len(batch.context)
        # The context messages whose keyword text lacked the messages that now follow them
        # (``Extraction`` only renews the keyword text of their stored memories).
        completed = range(max(0, first - VERBATIM_AFTER), first)
        return [
            self._record(batch, messages[at], said, at)
            for at in (*completed, *range(first, len(messages)))
        ]

    @staticmethod
    def _record(batch: Batch, message: MemoryMessage, said: list[str], at: int) -> MemoryRecord:
        speaker = speaker_of(message.content)
        window = said[max(0, at - VERBATIM_CONTEXT) : at + 1 + VERBATIM_AFTER]
        return NewMemoryRecord(
            id=message_memory_id(batch.session, message.id),
            text=said[at],
            search_text="\n".join([message.created_at.strftime("%d %B %Y"), *window]),
            memory_type=MemoryTypeEnum.EPISODIC,
            event_date=message.created_at,
            extracted_from=[message.id],
            extraction_strategy=batch.strategy.strategy,
            extraction_strategy_config=batch.strategy.config,
            role=message.role,
            entities=[speaker] if speaker else None,
        )


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
            "namespace_id": batch.namespace_id or record.namespace_id,
            "namespace_label": batch.namespace_label or record.namespace_label,
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
    foreground: Foreground = field(default_factory=lambda: Foreground(serving=False))

    async def run(self, session: Session) -> int:
        """Extract the session's messages not yet extracted; how many were marked. With traces
        on, in a ``remem.extract`` span linked to the write that made it due."""
        if not tracing.on():
            return await self._run(session, None)
        with tracing.TRACER.start_as_current_span("remem.extract") as span:
            return await self._run(session, span)

    async def _run(self, session: Session, span: Span | None) -> int:
        pending = await self.working.pending(
            session, "messages", "discrete_memory_extracted", "f", CONTEXT_MESSAGES
        )
        if not pending.items:
            return 0
        doc_strategy, written, parent, placed, label = await self.working.strategy(session)
        if placed is not None:
            placed = await self._placement(session, placed)
        batch = Batch(
            session=session,
            strategy=MemoryStrategyConfig.model_validate(doc_strategy or {}),
            messages=[MemoryMessage.model_validate(m) for m in pending.items],
            context=[MemoryMessage.model_validate(m) for m in pending.context],
            namespace_id=placed,
            namespace_label=label,
        )
        if span is not None:
            for link in tracing.link_to(parent):
                span.add_link(link.context)
            span.set_attribute("remem.extract.messages", len(batch.messages))
        records = [scoped(r, batch) for r in await self.extractor.extract(batch)]
        renewed = {message_memory_id(session, m.id) for m in batch.context}
        async with self.foreground.turn():  # the writes: between a serving process's requests
            await self.long_term.create(  # its ids are the server's: mergeable
                [r for r in records if r.id not in renewed], server_made=True
            )
            for record in records:  # a context message's memory: its keyword text, if there
                if record.id in renewed:
                    await self._refresh(record)
            marked = await self.working.mark(
                session, "messages", "discrete_memory_extracted", "t", pending.raw
            )
        if span is not None:
            span.set_attribute("remem.extract.memories", len(records))
        if written is not None:  # searchable now, since the session's last write
            LAG_SECONDS.observe(max(0.0, time.time() - written))
        return marked

    async def _placement(self, session: Session, namespace_id: str) -> str | None:
        """The session's namespace resource if it still takes memories; None (unplaced) once
        it is archived or deleted, as a managed API placement into one would be refused."""
        if session.namespace is None:
            return None
        tree = await NamespaceTree(self.working.redis, self.working.keys).all(session.namespace)
        node = tree.get(namespace_id)
        return namespace_id if node is not None and node.get("state") == "ACTIVE" else None

    async def _refresh(self, record: MemoryRecord) -> None:
        """Set the ``search_text`` of the stored memory ``record`` renews, changing nothing else:
        a memory deleted meanwhile stays deleted, an edited or pinned one keeps its edits."""
        search_text = getattr(record, "search_text", None)
        if search_text:
            with contextlib.suppress(NotFound):
                await self.long_term.update(
                    record.id, EditMemoryRecordRequest(search_text=search_text)
                )

    async def left(self, session: Session) -> bool:
        """Whether the session has messages not yet extracted (arrived during a run)."""
        pending = await self.working.pending(session, "messages", "discrete_memory_extracted", "f")
        return bool(pending.items)
