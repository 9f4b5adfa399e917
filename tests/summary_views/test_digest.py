"""The summary without an LLM: a digest of the memories alone, the same for the same memories
whatever their order (README and ``background.view_summarizers`` describe it)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from remem.background.view_summarizers import DIGEST_NEWEST, digest
from remem.models.memory import MemoryRecord, MemoryTypeEnum


def test_the_digest_counts_ranks_and_quotes_the_newest() -> None:
    start = datetime(2026, 1, 3, tzinfo=UTC)
    memories = [
        MemoryRecord(
            id=f"m{i:02d}",
            text=f"fact {i}" + ("  with\nspaces " + "x" * 300 if i == 13 else ""),
            created_at=start + timedelta(days=i),
            memory_type=MemoryTypeEnum.EPISODIC if i % 4 == 0 else MemoryTypeEnum.SEMANTIC,
            topics=["travel"] if i % 2 else ["food", "travel"],
            entities=["Lisbon"] if i == 1 else None,
        )
        for i in range(14)
    ]
    text = digest(memories)
    lines = text.splitlines()
    assert lines[:5] == [
        "14 memories, 2026-01-03 to 2026-01-16.",
        "Types: semantic 10, episodic 4.",
        "Topics: travel 14, food 7.",
        "Entities: Lisbon 1.",
        "Newest:",
    ]
    quoted = lines[5:]
    assert len(quoted) == DIGEST_NEWEST
    assert quoted[0].startswith("- 2026-01-16: fact 13 with spaces xxx") and quoted[0].endswith("…")
    assert len(quoted[0]) == len("- 2026-01-16: ") + 200
    assert quoted[1:] == [f"- 2026-01-{3 + i:02d}: fact {i}" for i in range(12, 3, -1)]
    shuffled = memories[:]
    random.Random(7).shuffle(shuffled)
    assert digest(shuffled) == text


def test_one_memory_without_topics() -> None:
    one = MemoryRecord(text="only", created_at=datetime(2026, 5, 1, 9, tzinfo=UTC))
    assert digest([one]) == (
        "1 memory, 2026-05-01 to 2026-05-01.\nTypes: semantic 1.\nNewest:\n- 2026-05-01: only"
    )
