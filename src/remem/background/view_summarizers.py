"""The summary of one partition of a summary view: by the LLM, or a deterministic digest.

With an LLM (``LLMViewSummary``): one chat completion for a partition whose memories fit
``CHUNK_TOKENS`` (estimated at four characters a token); a larger partition is sent chunk by
chunk, oldest first, each call merging its memories into the summary so far, so every memory
reaches the model (the upstream server cut the prompt at 200 memories and dropped the rest).
The view's ``prompt`` replaces the default instructions; ``model_name`` is not used (the
configured model answers).

Without one (``Digest``), the summary is made of the memories alone, the same for the same
memories, in this form::

    12 memories, 2026-01-03 to 2026-02-11.
    Types: semantic 9, episodic 3.
    Topics: travel 5, food 2.
    Entities: Lisbon 4, Ana 2.
    Newest:
    - 2026-02-11: Ana booked the train to Porto for March.
    - ...

Counts go from most to least frequent, ties in name order; at most ``DIGEST_TOP`` topics and
entities and the ``DIGEST_NEWEST`` newest texts, each cut to ``DIGEST_TEXT_CHARS`` characters
(an ellipsis marks a cut). Lines with nothing to say (no topics, say) are left out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

from remem.llm.client import LLMClient
from remem.memory.tokens import estimate_tokens
from remem.models.memory import MemoryRecord
from remem.models.views import SummaryView

CHUNK_TOKENS = 8_000  # as working-memory summarisation: fits every chat model README lists
SUMMARY_WORDS = 300
DIGEST_TOP = 10
DIGEST_NEWEST = 10
DIGEST_TEXT_CHARS = 200


class PartitionSummary(Protocol):
    async def summarize(
        self, view: SummaryView, group: dict[str, str], memories: Sequence[MemoryRecord]
    ) -> str:
        """The summary of ``memories`` (oldest first, at least one)."""
        ...


def _day(record: MemoryRecord) -> str:
    return record.created_at.date().isoformat()


def _counted(counter: Counter[str]) -> str:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:DIGEST_TOP]
    return ", ".join(f"{name} {count}" for name, count in ranked)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DIGEST_TEXT_CHARS else text[: DIGEST_TEXT_CHARS - 1] + "…"


def digest(memories: Sequence[MemoryRecord]) -> str:
    """The deterministic digest described in the module docstring."""
    ordered = sorted(memories, key=lambda m: (m.created_at, m.id))
    lines = [
        f"{len(ordered)} memor{'y' if len(ordered) == 1 else 'ies'}, "
        f"{_day(ordered[0])} to {_day(ordered[-1])}."
    ]
    lines.append("Types: " + _counted(Counter(str(m.memory_type) for m in ordered)) + ".")
    topics = Counter(t for m in ordered for t in (m.topics or ()))
    if topics:
        lines.append("Topics: " + _counted(topics) + ".")
    entities = Counter(e for m in ordered for e in (m.entities or ()))
    if entities:
        lines.append("Entities: " + _counted(entities) + ".")
    lines.append("Newest:")
    lines += [f"- {_day(m)}: {_cut(m.text)}" for m in reversed(ordered[-DIGEST_NEWEST:])]
    return "\n".join(lines)


class Digest:
    async def summarize(
        self, view: SummaryView, group: dict[str, str], memories: Sequence[MemoryRecord]
    ) -> str:
        return digest(memories)


class Summary(BaseModel):
    summary: str = Field(min_length=1)


DEFAULT_INSTRUCTIONS = (
    "Summarise a group of long-term memories an assistant keeps about its users: key facts, "
    "stable preferences and important events, with names, numbers and dates."
)
_FORMAT = (
    "The user message is JSON: group (what the memories have in common), summary_so_far "
    "(null at first) and memories, oldest first. Answer with the summary: summary_so_far "
    f"merged with what the memories add. At most {SUMMARY_WORDS} words."
)


def _memory(record: MemoryRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "text": record.text,
        "type": str(record.memory_type),
        "created_at": record.created_at.isoformat(),
    }
    if record.topics:
        item["topics"] = record.topics
    if record.entities:
        item["entities"] = record.entities
    return item


def chunked(memories: Sequence[MemoryRecord], limit: int) -> list[list[dict[str, Any]]]:
    """Consecutive runs of the memories' prompt items of at most ``limit`` estimated tokens
    (an item longer than that alone)."""
    out: list[list[dict[str, Any]]] = []
    used = 0
    for record in memories:
        item = _memory(record)
        cost = estimate_tokens(json.dumps(item, ensure_ascii=False))
        if not out or (used + cost > limit and out[-1]):
            out.append([])
            used = 0
        out[-1].append(item)
        used += cost
    return out


@dataclass
class LLMViewSummary:
    llm: LLMClient
    chunk_tokens: int = CHUNK_TOKENS

    async def summarize(
        self, view: SummaryView, group: dict[str, str], memories: Sequence[MemoryRecord]
    ) -> str:
        system = f"{view.prompt or DEFAULT_INSTRUCTIONS}\n\n{_FORMAT}"
        summary: str | None = None
        for chunk in chunked(memories, self.chunk_tokens):
            asked = {"group": group, "summary_so_far": summary, "memories": chunk}
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": json.dumps(asked, ensure_ascii=False)},
            ]
            summary = (await self.llm.complete_json(messages, Summary, purpose="summary")).summary
        assert summary is not None  # at least one memory, so at least one chunk
        return summary
