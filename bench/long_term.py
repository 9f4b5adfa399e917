"""Long-term memory: ingest rate and search latency per mode, beside raw FT.SEARCH.

    python bench/long_term.py [--count 10000] [--searches 200]

Runs remem's service in-process (Resources: embedded Redis in a temporary directory, the bundled
local embedding model). Ingest: memories created in batches of 256 through
``LongTermMemoryService.create`` (embedding + dedup checks + writes), embedding time reported
apart. Search: p50/p95 per mode at concurrency 1, query embedding included, beside a raw
``FT.SEARCH ... KNN 10`` with a precomputed vector on the same index.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from remem.config import Settings
from remem.models.search import NewMemoryRecord, SearchRequest
from remem.runtime import Resources
from remem.store.longterm import vector_bytes

SUBJECTS = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"]
VERBS = ["likes", "visited", "is learning", "bought", "cooked", "read about", "wants", "fixed"]
OBJECTS = [
    "green tea",
    "Lisbon",
    "the violin",
    "a red bicycle",
    "spicy ramen",
    "black holes",
    "a new laptop",
    "the garden fence",
    "Python typing",
    "jazz records",
    "a sailboat",
]


def text(rng: random.Random, i: int) -> str:
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"on day {i % 365} ({rng.choice(OBJECTS)})"
    )


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def main(count: int, searches: int) -> None:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), redis_url=None)
        async with Resources(settings) as res:
            svc = res.long_term
            await res.embedder.embed_batch(["warm up"])
            embed_time = 0.0
            started = time.perf_counter()
            for start in range(0, count, 256):
                batch = [
                    NewMemoryRecord(
                        id=f"m{i}",
                        text=text(rng, i),
                        namespace="bench",
                        user_id=f"u{i % 50}",
                        topics=[rng.choice(OBJECTS)],
                    )
                    for i in range(start, min(count, start + 256))
                ]
                t = time.perf_counter()
                await res.embedder.embed_batch([r.text for r in batch])
                embed_time += time.perf_counter() - t
                await svc.create(batch, deduplicate=False)
            total = time.perf_counter() - started - embed_time  # create() embeds again
            print(
                f"ingest {count:,} memories: {count / (total):,.0f}/s end to end "
                f"(embedding alone {count / embed_time:,.0f} texts/s, "
                f"{embed_time / total:.0%} of the time)"
            )
            queries = [
                f"what does {rng.choice(SUBJECTS)} like about {rng.choice(OBJECTS)}?"
                for _ in range(searches)
            ]
            print(f"| mode | p50 ms | p95 ms | ({count:,} memories, limit 10, concurrency 1) |")
            print("|---|--:|--:|---|")
            for mode in ("semantic", "keyword", "hybrid"):
                lat = []
                for q in queries:
                    t = time.perf_counter()
                    await svc.search(
                        SearchRequest(text=q, search_mode=mode, namespace={"eq": "bench"}, limit=10)
                    )
                    lat.append(time.perf_counter() - t)
                print(f"| remem {mode} | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} | |")
            vectors = await res.embedder.embed_batch(queries)
            index = settings.long_term_memory_index
            lat = []
            for v in vectors:
                t = time.perf_counter()
                await res.redis.execute_command(
                    "FT.SEARCH",
                    index,
                    "(@namespace:{bench})=>[KNN 10 @embedding $v AS dist]",
                    "PARAMS",
                    2,
                    "v",
                    vector_bytes(v),
                    "SORTBY",
                    "dist",
                    "LIMIT",
                    0,
                    10,
                    "RETURN",
                    1,
                    "dist",
                    "DIALECT",
                    2,
                )
                lat.append(time.perf_counter() - t)
            print(
                f"| raw FT.SEARCH KNN, precomputed vector | {pct(lat, 0.5):.2f} | "
                f"{pct(lat, 0.95):.2f} | |"
            )
            lat = []
            for q in queries[:50]:
                t = time.perf_counter()
                await res.embedder.embed_batch([q])
                lat.append(time.perf_counter() - t)
            print(f"| query embedding alone | {pct(lat, 0.5):.2f} | {pct(lat, 0.95):.2f} | |")
            info = await res.redis.info("memory")
            print(f"Redis used_memory_human: {info['used_memory_human']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.searches))
