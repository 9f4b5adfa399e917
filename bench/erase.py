"""Erase of one user: a user with ``--memories`` long-term memories (10,000) and ``--sessions``
sessions (100, each with its promotion and extraction pending) among other users' data, erased
by ``maintenance.erase`` (what ``POST /v1/erasures`` and ``remem erase`` run), beside raw Redis
unlinking the same number of memory hashes in pipelines of 1,000 (the floor: nearly all of an
erase is the index removing each memory's vector from its HNSW graph).

    python bench/erase.py [--memories 10000] [--sessions 100] [--others 5000] [--runs 3]

Starts a Redis with the Query Engine on a free TCP port (the binaries the embedded Redis uses).
Memories are ten words of natural-looking text (``long_term.Natural``), embedded by the default
local model and written straight to the store (no deduplication: the erase is measured, not
the ingest). Prints, for each run, the wall time, the CPU time of Redis and of this process,
and the receipt's counts; then checks that no key under the prefix names the user.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from long_term import Natural
from migrate_ams import bench_redis

from remem.auth import LOCAL_ADMIN
from remem.config import Settings
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.models.working import UpdateWorkingMemory
from remem.runtime import Resources
from remem.tenants.erase import erase

BATCH = 500


async def seed(res: Resources, corpus: Natural, user: str, count: int, sessions: int) -> None:
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        texts = [corpus.text(i) for i in numbers]
        vectors = await res.embedder.embed_batch(texts)
        docs = [
            to_doc(MemoryRecord(id=f"{user}-{i}", text=t, user_id=user, namespace=f"ns{i % 3}"), v)
            for i, t, v in zip(numbers, texts, vectors, strict=True)
        ]
        await res.long_term.store.documents.upsert_many(docs)
    for i in range(sessions):
        body = UpdateWorkingMemory.model_validate(
            {
                "namespace": f"ns{i % 3}",
                "user_id": user,
                "messages": [{"role": "user", "content": corpus.text(i)}],
                "memories": [{"id": f"{user}-wm-{i}", "text": corpus.text(i + 1)}],
            }
        )
        await res.working.put(f"s{i}", body)


async def redis_cpu(res: Resources) -> float:
    info = await res.redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def raw_unlink(res: Resources, corpus: Natural, count: int) -> float:
    """Seconds raw Redis takes to UNLINK ``count`` indexed memory hashes, 1,000 a pipeline."""
    user = f"raw{secrets.token_hex(3)}"
    await seed(res, corpus, user, count, 0)
    keys = [res.keys.memory(f"{user}-{i}") for i in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 1000):
        async with res.redis.pipeline(transaction=False) as pipe:
            for key in keys[start : start + 1000]:
                pipe.unlink(key)
            await pipe.execute()
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    corpus = Natural()
    failures = 0
    async with bench_redis() as (url, _, _):
        settings = Settings(redis_url=url, run_worker=False, extraction_debounce_seconds=600)
        async with Resources(settings) as res:
            await seed(res, corpus, "others", args.others, 10)
            print(
                f"erase of one user: {args.memories:,} memories, {args.sessions} sessions, "
                f"beside {args.others:,} memories of another user"
            )
            for run in range(args.runs):
                user = f"user{run}"
                await seed(res, corpus, user, args.memories, args.sessions)
                cpu = await redis_cpu(res) + time.process_time()
                started = time.perf_counter()
                receipt = await erase(res, LOCAL_ADMIN, user_id=user, namespace=None)
                seconds = time.perf_counter() - started
                cpu = await redis_cpu(res) + time.process_time() - cpu
                left = [k async for k in res.redis.scan_iter(match=f"*{user}*", count=1000)]
                counts = receipt.counts
                ok = (
                    not left
                    and counts.long_term_memories == args.memories
                    and counts.working_memory_sessions == args.sessions
                )
                failures += not ok
                print(
                    f"  run {run + 1}: {seconds:.3f} s (CPU {cpu:.3f} s, Redis and remem); "
                    f"{counts.long_term_memories:,} memories, "
                    f"{counts.working_memory_sessions} sessions, {counts.task_records} task "
                    f"records; keys left naming the user: {len(left)}"
                    f"{'' if ok else '  FAILED'}"
                )
            raw = await raw_unlink(res, corpus, args.memories)
            print(f"  raw Redis: UNLINK of {args.memories:,} indexed memories {raw:.3f} s")
    return failures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--others", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    sys.exit(asyncio.run(main(parser.parse_args())))
