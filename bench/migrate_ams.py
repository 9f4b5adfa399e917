"""``remem migrate`` on Agent Memory Server (AMS 0.15.2) long-term memories: memories/s, beside
raw Redis copying the same hashes and the embedding model alone, in the same run.

    python bench/migrate_ams.py [--memories 100000] [--reuse-vectors]

Starts a Redis with the Query Engine on a free TCP port (the binaries the embedded Redis uses,
``hash-max-listpack-value 4096`` as remem advises), creates AMS's index ``memory_records`` with
the very FT.CREATE AMS 0.15.2 issued and fills it with ``--memories`` hashes made from the ones
AMS wrote in ``tests/fixtures/ams`` (each template's fields, with a new id and a text of ten
words drawn as in real text: ``long_term.Natural``; a random FLOAT32 vector of AMS's size).
Then, timed:

- raw Redis: every hash read (HGETALL) and written again under another prefix, in pipelines of
  256, then those copies deleted: the floor for moving the data; and, after the migration,
  remem's hashes written again under new keys its index covers (HSET in pipelines of 256): the
  floor for storing and indexing them, which the ratio compares with;
- the embedding model alone (remem's default) on the same texts, in this process;
- ``remem migrate --redis-url ...`` as a user runs it (a subprocess): memories/s end to end, and
  the ratio to raw Redis; with ``--reuse-vectors`` a second run on fresh data keeps AMS's
  vectors (made the model's size for this) instead of embedding;
- Redis memory per migrated memory (``used_memory`` after, minus before AMS's data, over N).

Every memory is checked afterwards: all in remem, none left in AMS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import free_port, remem_command
from long_term import Natural

from remem.embeddings.static import StaticEmbedder
from remem.store.embedded import find_binaries

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ams" / "ams-0.15.2.json"
PIPELINE = 1000


def templates() -> tuple[list[str], list[dict[str, Any]]]:
    """AMS's FT.CREATE for memory_records and the memory hashes it wrote."""
    data = json.loads(FIXTURE.read_text())
    create = ["FT.CREATE", "memory_records", *data["indexes"]["memory_records"]]
    hashes = [k["value"] for k in data["keys"] if k["key"].startswith("memory_idx:")]
    return create, hashes


def field_bytes(value: Any) -> bytes:
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return str(value).encode()


async def load(redis: Redis, n: int, dims: int, texts: list[str]) -> None:
    create, hashes = templates()
    await redis.execute_command(*create)
    rng = np.random.default_rng(0)
    for start in range(0, n, PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + PIPELINE, n)):
                fields = {k: field_bytes(v) for k, v in hashes[i % len(hashes)].items()}
                memory_id = f"bench-{i:07d}"
                fields.update(
                    id_=memory_id.encode(),
                    text=texts[i].encode(),
                    vector=rng.standard_normal(dims, dtype=np.float32).tobytes(),
                )
                pipe.hset(f"memory_idx:{memory_id}", mapping=fields)
            await pipe.execute()


async def raw_copy(redis: Redis, n: int) -> float:
    """Memories/s of reading every AMS hash and writing it under another key."""
    keys = [f"memory_idx:bench-{i:07d}" for i in range(n)]
    started = time.perf_counter()
    for start in range(0, n, 256):
        chunk = keys[start : start + 256]
        async with redis.pipeline(transaction=False) as pipe:
            for key in chunk:
                pipe.hgetall(key)
            rows = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:
            for key, row in zip(chunk, rows, strict=True):
                pipe.hset(f"copy:{key}", mapping=row)
            await pipe.execute()
    rate = n / (time.perf_counter() - started)
    for start in range(0, n, PIPELINE):
        await redis.delete(*(f"copy:{k}" for k in keys[start : start + PIPELINE]))
    return rate


async def raw_indexed_write(redis: Redis, n: int) -> float:
    """Memories/s of writing remem's own hashes again, under new keys its index covers: what
    Redis alone spends storing and indexing (HNSW insert included) the migrated memories."""
    keys = [k async for k in redis.scan_iter(match="remem:mem:*", count=1000)][:n]
    rows = []
    for start in range(0, len(keys), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys[start : start + 1000]:
                pipe.hgetall(key)
            rows += await pipe.execute()
    started = time.perf_counter()
    for start in range(0, len(keys), 256):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 256, len(keys))):
                pipe.hset(f"remem:mem:raw-copy-{i}", mapping=rows[i])
            await pipe.execute()
    rate = len(keys) / (time.perf_counter() - started)
    for start in range(0, len(keys), PIPELINE):
        await redis.delete(
            *(f"remem:mem:raw-copy-{i}" for i in range(start, min(start + PIPELINE, len(keys))))
        )
    return rate


@asynccontextmanager
async def bench_redis() -> AsyncIterator[tuple[str, Redis, str]]:
    """A Redis with the Query Engine on a free TCP port (the embedded Redis's binaries, with
    ``hash-max-listpack-value 4096`` as remem advises) in a temporary directory, answering:
    (URL, client, directory). Stopped on exit."""
    binaries, port = find_binaries(), free_port()
    with tempfile.TemporaryDirectory() as workdir:
        command = [binaries.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir]
        command += ["--save", "", "--appendonly", "no", "--hash-max-listpack-value", "4096"]
        command += ["--loadmodule", binaries.search, "--loadmodule", binaries.json]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 - at start
        url = f"redis://127.0.0.1:{port}"
        redis = Redis.from_url(url)
        try:
            for _ in range(100):
                try:
                    await redis.ping()
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            yield url, redis, workdir
        finally:
            await redis.aclose()
            server.terminate()
            server.wait(timeout=30)


async def reset(redis: Redis) -> None:
    for index in await redis.execute_command("FT._LIST"):
        await redis.execute_command("FT.DROPINDEX", index)
    await redis.flushall()


def migrate(url: str, reuse: bool) -> float:
    args = [*remem_command(), "migrate", "--redis-url", url] + (["--reuse-vectors"] * reuse)
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"remem migrate failed:\n{done.stderr[-2000:]}")
    print("   ", "\n    ".join(done.stdout.strip().splitlines()[-6:]))
    return seconds


async def check(redis: Redis, n: int) -> None:
    left = [k async for k in redis.scan_iter(match="memory_idx:*", count=1000)]
    moved = [k async for k in redis.scan_iter(match="remem:mem:*", count=1000)]
    if left or len(moved) != n:
        sys.exit(f"check failed: {len(left)} left in AMS, {len(moved)} in remem of {n}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--reuse-vectors", action="store_true")
    args = parser.parse_args()
    n = args.memories
    corpus = Natural()
    texts = [corpus.text(i) for i in range(n)]
    embedder = StaticEmbedder()
    async with bench_redis() as (url, redis, _):
        print(f"bench/migrate_ams.py: {n:,} AMS 0.15.2 long-term memories, Redis at {url}")
        await embedder.embed_batch(texts[:256])  # loads the model
        started = time.perf_counter()
        for start in range(0, n, 256):
            await embedder.embed_batch(texts[start : start + 256])
        embed_rate = n / (time.perf_counter() - started)
        started = time.perf_counter()
        before = (await redis.info("memory"))["used_memory"]
        await load(redis, n, 384, texts)
        print(f"  loaded in {time.perf_counter() - started:,.1f} s")
        raw_rate = await raw_copy(redis, n)
        print(f"  raw Redis copy (HGETALL + HSET, pipelines of 256): {raw_rate:,.0f} memories/s")
        print(f"  embedding alone ({embedder.dimensions} dims): {embed_rate:,.0f} memories/s")
        seconds = await asyncio.to_thread(migrate, url, False)
        await check(redis, n)
        after = (await redis.info("memory"))["used_memory"]
        indexed_rate = await raw_indexed_write(redis, n)
        print(
            f"  raw Redis writing the migrated hashes again into remem's index: "
            f"{indexed_rate:,.0f} memories/s"
        )
        print(
            f"  remem migrate (re-embedding): {n / seconds:,.0f} memories/s, {seconds:,.1f} s "
            f"({n / seconds / indexed_rate:.2f}x raw indexed writes); remem memory "
            f"{(after - before) / n:,.0f} B/memory"
        )
        if args.reuse_vectors:  # AMS vectors of the model's size this time
            await reset(redis)
            await load(redis, n, embedder.dimensions, texts)
            seconds = await asyncio.to_thread(migrate, url, True)
            await check(redis, n)
            print(
                f"  remem migrate --reuse-vectors: {n / seconds:,.0f} memories/s, "
                f"{seconds:,.1f} s ({n / seconds / indexed_rate:.2f}x raw indexed writes)"
            )


if __name__ == "__main__":
    asyncio.run(main())
