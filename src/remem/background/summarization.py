"""Summarisation of working memory: when a session's messages pass the summarisation threshold
of its model's context window, its oldest messages are folded into ``context`` and removed.

Rules:
- The window is the one the write named (``model_name`` or ``context_window_max`` on the PUT or
  append); a write naming none schedules nothing, since no threshold can be computed.
- The newest messages stay verbatim: as many as fit ``KEEP_SHARE`` of the window (never more
  than the threshold itself allows, and always at least the newest message); every older
  message is summarised, oldest first, merged with the previous summary. None is dropped
  unsummarised (the upstream server reversed the order and could leave messages out).
- A backlog longer than ``chunk_tokens`` goes to the LLM chunk by chunk, in order, each chunk
  folded into the running summary.
- The write is one atomic patch (``WorkingMemoryStore.summarized``): ``context`` is set and
  exactly the summarised messages are removed, only if they are still the first messages and
  the context is still the one summarised; messages appended meanwhile stay. A PUT that
  replaced them (or a concurrent run that patched first) makes the patch a no-op; the run
  then starts again from a fresh read.
- Only messages already extracted into long-term memory (``discrete_memory_extracted`` "t")
  leave the session: a run finding others among the oldest raises before calling the LLM,
  and the task's retry (1 s, doubling) runs after extraction, whose debounce is the same.
- LLM failures (unreachable, or invalid output twice) raise: nothing is written and the task
  is retried (``tasks.jobs``).
- Without an LLM, ``TrimNote`` records what was removed, deterministically:
  "N earlier messages (from <first created_at> to <last created_at>) were trimmed: no LLM to
  summarise them." Notes of successive runs merge into one line (counts added, dates spanned).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, Field

from remem.llm.client import LLMClient
from remem.memory.tokens import message_tokens, summarization_due
from remem.models.working import MemoryMessage
from remem.store.working import Session, WorkingMemoryStore

# Share of the window the kept messages may use: half, leaving room for the summary and new
# turns before the threshold (0.7 by default) is reached again.
KEEP_SHARE = 0.5
# Tokens of messages sent to the summariser in one call (the LLM's own window is unknown:
# 8,000 fits every chat model remem's README lists, with room for the summary and the prompt).
CHUNK_TOKENS = 8_000
SUMMARY_WORDS = 300  # asked of the LLM, so the context stays small beside the window
ATTEMPTS = 3  # reads of a session that keeps changing under a run, before the task retries


class SessionChanged(Exception):
    """The session changed under every attempt of a run (retried by the task)."""


class NotExtractedYet(Exception):
    """Messages due for summarisation are not extracted yet: the task's retry runs after
    extraction (logged at INFO without a traceback, ``tasks.jobs.EXPECTED_RETRIES``)."""


def split(
    messages: Sequence[MemoryMessage], window: int, threshold: float
) -> tuple[list[MemoryMessage], list[MemoryMessage]]:
    """(oldest messages to summarise, newest messages to keep verbatim). The kept ones fit
    half the window, or 5/7 of the threshold when that is lower (the ratio of the default
    0.7 threshold to half the window), so a run always ends well under the threshold."""
    budget = window * min(KEEP_SHARE, threshold * KEEP_SHARE / 0.7)
    kept = 0
    used = 0
    for message in reversed(messages):
        cost = message_tokens(message)
        if kept and used + cost > budget:
            break
        kept += 1
        used += cost
    cut = len(messages) - kept
    return list(messages[:cut]), list(messages[cut:])


def chunks(messages: Sequence[MemoryMessage], limit: int) -> list[list[MemoryMessage]]:
    """Consecutive runs of messages of at most ``limit`` tokens (a longer message alone)."""
    out: list[list[MemoryMessage]] = []
    used = 0
    for message in messages:
        cost = message_tokens(message)
        if not out or (used + cost > limit and out[-1]):
            out.append([])
            used = 0
        out[-1].append(message)
        used += cost
    return out


class Summarizer(Protocol):
    """Folds messages (oldest first) into the summary so far (None: there is none)."""

    async def fold(self, previous: str | None, messages: Sequence[MemoryMessage]) -> str: ...


class Summary(BaseModel):
    summary: str = Field(min_length=1)


_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an assistant. "
    "The user message is JSON: summary_so_far (null at first) and messages, the next "
    "messages of the conversation, oldest first. Answer with the updated summary: "
    "summary_so_far merged with what the messages add, in chronological order, keeping "
    "facts, names, numbers, dates, decisions and open questions, dropping small talk. "
    f"At most {SUMMARY_WORDS} words."
)


@dataclass
class LLMSummarizer:
    llm: LLMClient

    async def fold(self, previous: str | None, messages: Sequence[MemoryMessage]) -> str:
        payload = {
            "summary_so_far": previous,
            "messages": [
                {
                    "id": m.id,
                    "role": m.role,
                    "created_at": m.created_at.isoformat(),
                    "content": m.content,
                }
                for m in messages
            ],
        }
        asked = [
            {"role": "system", "content": _INSTRUCTIONS},
            {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
        ]
        answer = await self.llm.complete_json(asked, Summary, purpose="summary")
        return answer.summary.strip()


_NOTE = re.compile(
    r"(\d+) earlier messages? \(from (\S+) to (\S+)\) (?:was|were) trimmed: "
    r"no LLM to summarise them\.$"
)


def trim_note(count: int, first: str, last: str) -> str:
    noun, verb = ("message", "was") if count == 1 else ("messages", "were")
    return (
        f"{count} earlier {noun} (from {first} to {last}) {verb} trimmed: no LLM to summarise them."
    )


@dataclass
class TrimNote:
    """No LLM: the summary says how many messages were trimmed and the dates they span."""

    async def fold(self, previous: str | None, messages: Sequence[MemoryMessage]) -> str:
        count = len(messages)
        first = messages[0].created_at.isoformat()
        last = messages[-1].created_at.isoformat()
        head = previous or ""
        found = _NOTE.search(head)
        if found:  # merge with the note of an earlier run
            count += int(found.group(1))
            first = found.group(2)
            head = head[: found.start()]
        note = trim_note(count, first, last)
        return f"{head}{note}" if not head or head.endswith("\n") else f"{head}\n{note}"


@dataclass
class Summarization:
    """Runs one summarisation of a session (the task ``summarize_working_memory``)."""

    store: WorkingMemoryStore
    summarizer: Summarizer
    threshold: float
    chunk_tokens: int = CHUNK_TOKENS
    # Summarise only messages already extracted (else they would never reach long-term
    # memory); False when extraction is off (REMEM_EXTRACT_MESSAGES=false).
    after_extraction: bool = True

    async def run(self, session: Session, window: int) -> int:
        """Summarise what is due; the number of messages removed (0: nothing due).

        A patch refused because the session changed since it was read (a PUT, or an earlier
        run of the same session finishing first) is tried again on a fresh read, as often as
        ``ATTEMPTS``; then it raises, so the task's retry runs later."""
        for _ in range(ATTEMPTS):
            removed = await self._once(session, window)
            if removed is not None:
                return removed
        raise SessionChanged(
            f"session {session.session_id} changed during each of {ATTEMPTS} summarisations"
        )

    async def _once(self, session: Session, window: int) -> int | None:
        """One summarisation: messages removed, or None when the patch was refused."""
        doc = await self.store.get(session)
        if doc is None:
            return 0
        messages = [MemoryMessage.model_validate(m) for m in doc.get("messages") or []]
        if not summarization_due(messages, window, self.threshold):
            return 0
        older, _ = split(messages, window, self.threshold)
        if not older:
            return 0
        waiting = sum(m.discrete_memory_extracted != "t" for m in older)
        if (
            waiting and self.after_extraction
        ):  # removed now, they would never reach long-term memory
            raise NotExtractedYet(
                f"{waiting} of the {len(older)} messages to summarise in session "
                f"{session.session_id} are not extracted yet"
            )
        previous: str | None = doc.get("context")
        summary = previous
        for chunk in chunks(older, self.chunk_tokens):
            summary = await self.summarizer.fold(summary, chunk)
        assert summary is not None
        applied = await self.store.summarized(session, previous, summary, [m.id for m in older])
        return len(older) if applied else None
