"""Listing plans by namespace size: Redis CPU per listing, with every page checked.

    python bench/listing.py [--sizes 100 1000 5000 20000 100000] [--listings 100] [--rounds 3]
                            [--offsets 0 half] [--all] [--old OTHER_CHECKOUT/src]

Starts an embedded Redis in a fresh temp dir (the launcher ``remem serve`` uses), creates the
working-memory index, and writes one namespace per size (``ns<size>``), all in the same Redis so
each namespace is listed among the others, as on a shared server. Sessions are the documents
remem's PUT writes: ``created_at`` uniform at random over a week (``--spread``; 10 is sessions
written in a burst, as through the API) ending a minute (``--age``) before the listings, and
distinct, ``updated_at`` a random time after it, 50 users per namespace, every other session with
a TTL of a day (key expiry and ``expires_at`` set) and the rest persistent.

For each size, the first page and the page at offset size/2 (``--offsets``: others; 20 sessions,
``created_at`` DESC) are listed by each plan; ``--all`` lists the whole index too (no namespace,
every size's sessions), as a listing without a namespace does:

- ``ams``: the one query the upstream server (AMS 0.15.2, ``working_memory.list_sessions``, a
  RedisVL ``FilterQuery``) sends: ``FT.SEARCH idx "@namespace:{ns}" RETURN 1 session_id LIMIT 0
  o+20``, unsorted (its pages are in no stated order) and without an expiry clause;
- ``sorted``: ``FT.SEARCH idx "@namespace:{ns}" NOCONTENT SORTBY created_at DESC LIMIT o 20``,
  the floor for a sorted page with its total in one query;
- ``clause``: the same with remem's expiry clause ``-@expires_at:[-inf now]`` (its cost is the
  difference between the two rows);
- ``plain`` and ``window``: remem's store forced to one plan (``plain_below`` and
  ``plain_deep_below`` huge, or 0);
- ``remem``: remem's store as it ships (plan picked by size), one store object for the whole run
  as in a server process, so what it remembers between listings is warm after the warm-up;
- ``old`` (with ``--old DIR``): the store of another checkout (``DIR/remem/store/working.py``,
  e.g. a detached worktree of an older commit, on this checkout's other modules), as it ships.

Run with ``PYTHONPATH=<other checkout>/src`` to measure another version's store as ``remem``
(``plain`` and ``window`` are skipped where the store has no ``plain_below``).

Figures per listing, the median over ``--rounds`` rounds (plans interleaved in each round, so a
busy neighbour hits them alike): Redis CPU in FT.SEARCH from ``INFO commandstats`` (usec delta /
listings: the time inside the command, which a neighbour inflates when it preempts Redis), the
CPU time of Redis's main thread from /proc/<pid>/schedstat (run time only, so the steadier
figure on a shared machine; it adds reading the requests and writing the replies, so it also
charges a plan for each extra round trip), FT.SEARCH calls, and the wall-clock p50. The
``ams`` rows are checked for their total and page size only (their order is the engine's).
Every page
of every plan is compared with ranks computed here from the ``created_at`` values written; the
script exits 1 when a page of ``remem`` or ``window`` is wrong. (A plain sort deep in 100,000
sessions can also come back wrong: it runs into the engine's 500 ms query timeout, which
answers with a partial result.)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from remem.store.embedded import EmbeddedRedis
from remem.store.keys import Keys
from remem.store.schema import ensure_index, working_memory_index
from remem.store.working import WorkingMemoryStore

KEYS = Keys("remem:")
PAGE = 20
DAY, WEEK = 86_400.0, 7 * 86_400.0
ALL = "*all*"  # the scope of a listing without a namespace

Lister = Callable[[str, int], Awaitable[tuple[int, list[str]]]]


@dataclass
class Cell:
    size: int
    page: str
    plan: str
    usec: list[float] = field(default_factory=list)  # FT.SEARCH usec per listing, per round
    cpu: list[float] = field(default_factory=list)  # Redis main thread CPU usec per listing
    calls: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    correct: bool = True
    commands: list[float] = field(default_factory=list)  # every Redis command, per listing


async def _cmd(redis: Redis, *args: Any) -> Any:
    return await redis.execute_command(*args)  # type: ignore[no-untyped-call]


async def load(
    redis: Redis, sizes: list[int], now: float, spread: float = WEEK, age: float = 60.0
) -> dict[int, list[float]]:
    """Write the sessions; return, per size, their ``created_at`` (session ``s{i:06d}``: [i])."""
    rng = random.Random(42)
    out: dict[int, list[float]] = {}
    for size in sizes:
        ns = f"ns{size}"
        drawn: set[float] = set()
        while len(drawn) < size:  # distinct (a short --spread makes equal draws likely)
            drawn.add(now - age - rng.random() * spread)
        created = list(drawn)
        rng.shuffle(created)
        for start in range(0, size, 2_000):
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(start, min(size, start + 2_000)):
                    sid, user, at = f"s{i:06d}", f"user-{i % 50}", created[i]
                    updated = at + rng.random() * (now - 60 - at)
                    ttl = DAY if i % 2 else None
                    doc = {
                        "messages": [{"role": "user", "content": f"hello {i}"}],
                        "session_id": sid,
                        "namespace": ns,
                        "user_id": user,
                        "created_at": at,
                        "updated_at": updated,
                        "last_accessed": updated,
                        "ttl_seconds": ttl,
                        "expires_at": None if ttl is None else round(now + ttl, 3),
                    }
                    key = KEYS.working_memory(sid, user, ns)
                    pipe.execute_command("JSON.SET", key, "$", json.dumps(doc))
                    if ttl is not None:
                        pipe.pexpireat(key, round((now + ttl) * 1000))
                await pipe.execute()
        out[size] = created
    return out


async def search_usec(redis: Redis) -> tuple[float, float, float]:
    """FT.SEARCH's usec and calls, and the calls of every command (INFO itself counts one)."""
    stats = await redis.info("commandstats")
    row = stats.get("cmdstat_FT.SEARCH", {"calls": 0, "usec": 0})
    every = sum(float(v["calls"]) for v in stats.values())
    return float(row["usec"]), float(row["calls"]), every


def main_thread_cpu_usec(pid: int) -> float:
    """CPU time of Redis's main thread (the one that runs commands), in ns from schedstat."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e3


def old_store(src: str) -> type[WorkingMemoryStore]:
    """``WorkingMemoryStore`` of another checkout's ``src`` (``--old``)."""
    path = Path(src) / "remem" / "store" / "working.py"
    spec = importlib.util.spec_from_file_location("remem_old_working", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    store: type[WorkingMemoryStore] = module.WorkingMemoryStore
    return store


def _scope(ns: str) -> str:
    return "*" if ns == ALL else f"@namespace:{{{ns}}}"


def listers(redis: Redis, index: str, old: str = "") -> dict[str, Lister]:
    async def ams(ns: str, offset: int) -> tuple[int, list[str]]:
        reply = await _cmd(
            redis, "FT.SEARCH", index, _scope(ns), "RETURN", 1, "session_id",
            "LIMIT", 0, offset + PAGE, "DIALECT", 2,
        )  # fmt: skip
        ids = [r["extra_attributes"]["session_id"] for r in reply["results"]][offset:]
        return int(reply["total_results"]), ids

    def plain(expiry: bool) -> Lister:
        async def run(ns: str, offset: int) -> tuple[int, list[str]]:
            query = _scope(ns)
            if expiry:
                clause = f"-@expires_at:[-inf {time.time()!r}]"
                query = clause if query == "*" else f"{query} {clause}"
            reply = await _cmd(
                redis, "FT.SEARCH", index, query, "NOCONTENT", "SORTBY", "created_at", "DESC",
                "LIMIT", offset, PAGE, "DIALECT", 2,
            )  # fmt: skip
            ids = [KEYS.parse_working_memory(r["id"])[2] for r in reply["results"]]
            return int(reply["total_results"]), ids

        return run

    def store_plan(store: WorkingMemoryStore) -> Lister:
        async def run(ns: str, offset: int) -> tuple[int, list[str]]:
            return await store.list_sessions(
                namespace=None if ns == ALL else ns,
                user_id=None,
                sort="created_at",
                descending=True,
                offset=offset,
                limit=PAGE,
            )

        return run

    plans = {"ams": ams, "sorted": plain(False), "clause": plain(True)}
    knobs = [
        k
        for k in ("plain_below", "plain_deep_below")
        if k in inspect.signature(WorkingMemoryStore).parameters
    ]
    if knobs:
        for name, below in (("plain", 10**9), ("window", 0)):
            forced = WorkingMemoryStore(redis, KEYS, index, **dict.fromkeys(knobs, below))
            plans[name] = store_plan(forced)
    plans["remem"] = store_plan(WorkingMemoryStore(redis, KEYS, index))
    if old:
        plans["old"] = store_plan(old_store(old)(redis, KEYS, index))
    return plans


async def measure(args: argparse.Namespace, url: str) -> list[Cell]:
    redis = Redis.from_url(url, protocol=3, decode_responses=True)
    pid = int((await redis.info("server"))["process_id"])
    spec = working_memory_index(KEYS, "working_memory_idx")
    await ensure_index(redis, KEYS, spec)
    t0 = time.perf_counter()
    created = await load(redis, args.sizes, time.time(), args.spread, args.age)
    ranked = {
        size: [f"s{i:06d}" for i in sorted(range(size), key=lambda i: -times[i])]
        for size, times in created.items()
    }
    # The index exists before the writes, so each JSON.SET is indexed as it runs.
    print(f"loaded {sum(args.sizes):,} sessions in {time.perf_counter() - t0:.1f}s")
    plans = listers(redis, spec.name, args.old)
    cells: dict[tuple[int, str, str], Cell] = {}
    per_round = max(1, args.listings // args.rounds)
    scopes = [(size, f"ns{size}", ranked[size]) for size in args.sizes]
    if args.all:  # every session, newest first
        every = [(t, f"s{i:06d}") for size in args.sizes for i, t in enumerate(created[size])]
        scopes.append((len(every), ALL, [sid for _, sid in sorted(every, reverse=True)]))
    for size, ns, order in scopes:
        offsets = sorted({size // 2 if o == "half" else int(o) for o in args.offsets})
        for offset in (o for o in offsets if o < size):
            page = ("first" if offset == 0 else f"offset {offset:,}") + (
                " (all)" if ns == ALL else ""
            )
            want = order[offset : offset + PAGE]

            def right(
                name: str, total: int, ids: list[str], want: list[str] = want, size: int = size
            ) -> bool:
                if name == "ams":  # unsorted: the engine's order, so only the sizes
                    return total == size and len(ids) == len(want)
                return ids == want and total == size

            for name, plan in plans.items():
                cell = cells[(size, page, name)] = Cell(size, page, name)
                for _ in range(3):  # warm-up, and the correctness check
                    total, ids = await plan(ns, offset)
                    cell.correct &= right(name, total, ids)
            for _ in range(args.rounds):
                for name, plan in plans.items():
                    cell = cells[(size, page, name)]
                    usec0, calls0, every0 = await search_usec(redis)
                    cpu0 = main_thread_cpu_usec(pid)
                    walls = []
                    for _ in range(per_round):
                        start = time.perf_counter()
                        total, ids = await plan(ns, offset)
                        walls.append(time.perf_counter() - start)
                        cell.correct &= right(name, total, ids)
                    cpu1 = main_thread_cpu_usec(pid)
                    usec1, calls1, every1 = await search_usec(redis)
                    cell.usec.append((usec1 - usec0) / per_round)
                    cell.cpu.append((cpu1 - cpu0) / per_round)
                    cell.calls.append((calls1 - calls0) / per_round)
                    cell.commands.append((every1 - every0 - 1) / per_round)
                    cell.wall_ms.append(statistics.median(walls) * 1e3)
            for name in plans:
                c = cells[(size, page, name)]
                print(
                    f"  {size:>7,} {page:<20} {name:<8} FT.SEARCH "
                    f"{statistics.median(c.usec):8.0f} us (rounds {_spread(c.usec)}), "
                    f"redis cpu {statistics.median(c.cpu):8.0f} us, calls "
                    f"{statistics.median(c.calls):4.1f} (all {statistics.median(c.commands):4.1f})"
                    f", wall p50 {statistics.median(c.wall_ms):6.2f} ms, "
                    f"{'OK' if c.correct else 'FAIL'}",
                    flush=True,
                )
    await redis.aclose()
    return list(cells.values())


def _spread(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}"


def report(args: argparse.Namespace, cells: list[Cell]) -> None:
    plans = list(dict.fromkeys(c.plan for c in cells))
    by_key = {(c.size, c.page, c.plan): c for c in cells}
    rows = dict.fromkeys((c.size, c.page) for c in cells)
    rounds = f"median of {args.rounds} rounds of {max(1, args.listings // args.rounds)}"
    print(f"\n`python bench/listing.py {' '.join(sys.argv[1:])}`")
    for title, metric in (
        ("Redis CPU in FT.SEARCH per listing (µs, INFO commandstats", "usec"),
        ("Redis main-thread CPU per listing (µs, /proc schedstat", "cpu"),
    ):
        print(f"\n{title}, {rounds}); FT.SEARCH calls per listing in brackets\n")
        against = [p for p in ("ams", "old") if p in plans]
        ratios = " | ".join(f"remem/{p}" for p in against)
        print("| sessions | page | " + " | ".join(plans) + f" | {ratios} | correct |")
        print("|--:|---|" + "--:|" * (len(plans) + len(against)) + "---|")
        for size, page in rows:
            row = [by_key[(size, page, p)] for p in plans]
            value = {c.plan: statistics.median(getattr(c, metric)) for c in row}
            ratio = " | ".join(
                f"{value['remem'] / value[p]:.2f}" if value[p] else "nan" for p in against
            )
            cols = " | ".join(
                f"{value[c.plan]:,.0f} ({statistics.median(c.calls):.0f})" for c in row
            )
            ok = "OK" if all(c.correct for c in row) else "FAIL"
            print(f"| {size:,} | {page} | {cols} | {ratio} | {ok} |")
    print(f"\nRedis commands per listing, every kind ({rounds})\n")
    print("| sessions | page | " + " | ".join(plans) + " |")
    print("|--:|---|" + "--:|" * len(plans))
    for size, page in rows:
        row = [by_key[(size, page, p)] for p in plans]
        print(
            f"| {size:,} | {page} | "
            + " | ".join(f"{statistics.median(c.commands):.1f}" for c in row)
            + " |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100, 1_000, 5_000, 20_000, 100_000]
    )
    parser.add_argument(
        "--offsets", nargs="+", default=["0", "half"], help="pages to list ('half': size/2)"
    )
    parser.add_argument("--listings", type=int, default=150, help="per cell, over all rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="list without a namespace too")
    parser.add_argument(
        "--spread", type=float, default=WEEK, help="seconds over which created_at is drawn"
    )
    parser.add_argument(
        "--age", type=float, default=60.0, help="seconds from the newest created_at to now"
    )
    parser.add_argument("--old", default="", help="another checkout's src: its store as 'old'")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp"))  # short: unix socket path
    server = EmbeddedRedis(data_dir)
    url = server.acquire()
    print(f"embedded Redis {url}; remem store from {sys.modules[WorkingMemoryStore.__module__]}")
    try:
        cells = asyncio.run(measure(args, url))
    finally:
        server.release()
        shutil.rmtree(data_dir, ignore_errors=True)
    report(args, cells)
    if not all(c.correct for c in cells if c.plan in ("remem", "window", "old")):
        sys.exit(1)


if __name__ == "__main__":
    main()
