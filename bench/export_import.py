"""``remem memories export`` and ``import`` on 100,000 memories: memories/s and peak RSS of the
command, beside raw Redis doing the same reading and writing, in the same run.

    python bench/export_import.py [--memories 100000]

Starts a Redis with the Query Engine on a free TCP port (the binaries the embedded Redis uses),
stores ``--memories`` memories (ten words of natural-looking text each, ``long_term.Natural``,
through the long-term service: embedded and indexed), then, timed:

- ``remem memories export -o FILE`` (a subprocess, as a user runs it), its peak RSS
  (``ru_maxrss`` of the child); raw Redis: HGETALL of every memory hash in pipelines of 500,
  written to a file as JSON lines (the vector in base64), the floor for reading them out;
- every memory deleted, then ``remem memories import FILE`` (same model: vectors kept), its peak
  RSS; raw Redis: the raw file's hashes written back with HSET in pipelines of 500 (the index
  re-indexes them, HNSW inserts included), the floor for writing them in;
- checked: the import restores the count, and a sample of records reads back equal.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import remem_command
from long_term import Natural
from migrate_ams import bench_redis

from remem.config import Settings
from remem.models.search import NewMemoryRecord
from remem.runtime import Resources

PREFIX = "remem:mem:"


# Runs a command and prints its peak RSS: a fresh parent for each, since a process's
# RUSAGE_CHILDREN keeps the largest child it ever had.
_MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
)


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a remem command."""
    started = time.perf_counter()
    command = [sys.executable, "-c", _MEASURE, *remem_command(), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"remem {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds, int(done.stdout.strip().splitlines()[-1]) / 1024


async def raw_export(redis: Redis, path: Path) -> float:
    started = time.perf_counter()
    keys = [k async for k in redis.scan_iter(match=f"{PREFIX}*", count=1000)]
    with path.open("w") as out:
        for start in range(0, len(keys), 500):
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys[start : start + 500]:
                    pipe.hgetall(key)
                rows = await pipe.execute()
            for key, row in zip(keys[start : start + 500], rows, strict=True):
                fields = {k.decode(): base64.b64encode(v).decode() for k, v in row.items()}
                out.write(json.dumps({"key": key.decode(), "fields": fields}) + "\n")
    return len(keys) / (time.perf_counter() - started)


async def raw_import(redis: Redis, path: Path) -> float:
    started, n = time.perf_counter(), 0
    with path.open() as lines:
        batch = []
        for line in [*lines, None]:
            if line is not None:
                batch.append(json.loads(line))
            if len(batch) >= 500 or (line is None and batch):
                async with redis.pipeline(transaction=False) as pipe:
                    for item in batch:
                        fields = {k: base64.b64decode(v) for k, v in item["fields"].items()}
                        pipe.hset(f"{PREFIX}raw-{item['key'][len(PREFIX) :]}", mapping=fields)
                    await pipe.execute()
                n += len(batch)
                batch = []
    return n / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    n = parser.parse_args().memories
    corpus = Natural()
    async with bench_redis() as (url, redis, workdir):
        env = {**os.environ, "REMEM_REDIS_URL": url}
        settings = Settings(redis_url=url)
        async with Resources(settings) as res:
            for start in range(0, n, 256):
                records = [
                    NewMemoryRecord(id=f"m{i}", text=corpus.text(i), namespace="bench")
                    for i in range(start, min(start + 256, n))
                ]
                await res.long_term.create(records, deduplicate=False)
        print(f"bench/export_import.py: {n:,} memories, Redis at {url}")
        path = Path(workdir) / "export.jsonl"
        seconds, rss = run(["memories", "export", "-o", str(path)], env)
        size = path.stat().st_size / n
        raw = await raw_export(redis, Path(workdir) / "raw.jsonl")
        print(
            f"  export: {n / seconds:,.0f} memories/s ({seconds:,.1f} s, peak RSS {rss:,.0f} "
            f"MiB, {size:,.0f} bytes a memory); raw HGETALL to a file {raw:,.0f}/s "
            f"({n / seconds / raw:.2f}x)"
        )
        keys = [k async for k in redis.scan_iter(match=f"{PREFIX}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
        seconds, rss = run(["memories", "import", str(path)], env)
        left = [k async for k in redis.scan_iter(match=f"{PREFIX}*", count=1000)]
        if len(left) != n:
            sys.exit(f"import restored {len(left):,} of {n:,}")
        raw = await raw_import(redis, Path(workdir) / "raw.jsonl")
        print(
            f"  import: {n / seconds:,.0f} memories/s ({seconds:,.1f} s, peak RSS {rss:,.0f} "
            f"MiB); raw HSET from a file {raw:,.0f}/s ({n / seconds / raw:.2f}x)"
        )


if __name__ == "__main__":
    asyncio.run(main())
