"""Seeding a user's data fast: memories written straight to the store (their texts embedded in
batches, no deduplication), sessions through the service (so their tasks are scheduled as a
PUT schedules them)."""

from __future__ import annotations

import numpy as np

from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.models.working import UpdateWorkingMemory
from remem.runtime import Resources

BATCH = 500
WORDS = [
    "alice",
    "bob",
    "likes",
    "hiking",
    "coffee",
    "tea",
    "paris",
    "berlin",
    "work",
    "meeting",
    "project",
    "dog",
    "cat",
    "music",
    "piano",
    "guitar",
    "tennis",
    "running",
    "book",
    "movie",
    "friday",
    "lives",
    "near",
    "lake",
    "prefers",
    "window",
    "seat",
    "allergic",
    "peanuts",
    "birthday",
    "march",
    "sister",
    "brother",
    "daughter",
    "vegetarian",
    "train",
    "flight",
    "hotel",
]


async def seed_memories(
    res: Resources, user_id: str | None, namespace: str | None, count: int, *, tag: str = "m"
) -> list[str]:
    rng = np.random.default_rng(count)
    ids = []
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        texts = [f"{' '.join(rng.choice(WORDS, 5))} fact {i}" for i in numbers]
        vectors = await res.embedder.embed_batch(texts)
        docs = []
        for i, text, vector in zip(numbers, texts, vectors, strict=True):
            memory_id = f"{tag}-{user_id}-{namespace}-{i}"
            record = MemoryRecord(
                id=memory_id, text=text, user_id=user_id, namespace=namespace,
                session_id=f"s-{i % 7}", topics=["t"],
            )  # fmt: skip
            docs.append(to_doc(record, vector))
            ids.append(memory_id)
        written = await res.long_term.store.documents.upsert_many(docs)
        assert not any(w.refused for w in written)
    return ids


async def seed_sessions(
    res: Resources, user_id: str | None, namespace: str | None, count: int
) -> list[str]:
    ids = []
    for i in range(count):
        session_id = f"session-{i}"
        body = UpdateWorkingMemory.model_validate(
            {
                "session_id": session_id,
                "namespace": namespace,
                "user_id": user_id,
                "messages": [{"role": "user", "content": f"hello {i}"}],
                "memories": [{"text": f"remember {i}", "id": f"wm-{user_id}-{namespace}-{i}"}],
            }
        )
        await res.working.put(session_id, body)
        ids.append(session_id)
    return ids
