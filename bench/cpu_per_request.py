"""CPU time per request of two remem versions, each on its own Redis, as a ratio.

    python bench/cpu_per_request.py --old /path/to/old/src [--memories 10000] [--requests 400]
                                    [--rounds 5] [--concurrency 16] [--kinds ...]

Wall-clock throughput means nothing on a shared machine; CPU time does. For each version (this
checkout's ``src``, and ``--old``, a checkout of another commit) a child process runs remem's
app as an ASGI app (no HTTP server, so the figure is the app's part of a request) on its own
embedded Redis, stores ``--memories`` memories (the narrow corpus of ``long_term.py``), then
runs each request kind ``--rounds`` times, ``--requests`` requests a round, ``--concurrency`` at
a time, and records per request:

- app: the child's CPU time (``time.process_time``: the app, the query embedding and the ASGI
  calls, which are the same code in both versions);
- redis: the CPU time of Redis's main thread (/proc/<pid>/schedstat: run time only, so a busy
  neighbour does not inflate it), which includes reading requests and writing replies;
- the usec and calls of each Redis command (``INFO commandstats`` deltas).

The table gives the median over rounds and new/old. The versions run one after the other, each
on a fresh Redis; ``--pairs 2`` runs old, new, old, new to show the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

NS, USER = "bench", "bench-user"
SUBJECTS = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"]
VERBS = ["likes", "visited", "is learning", "bought", "cooked", "read about", "wants", "fixed"]
OBJECTS = ["green tea", "Lisbon", "the violin", "a red bicycle", "spicy ramen", "black holes",
           "a new laptop", "the garden fence", "Python typing", "jazz records",
           "a sailboat"]  # fmt: skip
KINDS = ("semantic", "hybrid", "keyword", "PUT wm", "GET wm")

Call = Callable[[], Awaitable[bytes]]


# -- the child: one version's app on one Redis -----------------------------------------------------
def caller(app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"") -> Call:
    headers = [
        (b"host", b"remem"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def call() -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": headers,
            "server": ("remem", 80), "client": ("bench", 1),
        }  # fmt: skip
        sent, status, out = False, 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                out.append(message.get("body", b""))

        await app(scope, receive, send)
        if status != 200:
            raise SystemExit(f"{method} {path}: {status} {b''.join(out)[:300]!r}")
        return b"".join(out)

    return call


def text(i: int) -> str:
    rng = random.Random(i)
    return (
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
        f"on day {i % 365} ({rng.choice(OBJECTS)})"
    )


def redis_cpu_usec(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e3


async def commandstats(redis: Any) -> dict[str, tuple[int, float]]:
    info = await redis.info("commandstats")
    return {
        k.removeprefix("cmdstat_"): (int(v["calls"]), float(v["usec"])) for k, v in info.items()
    }


async def child(args: argparse.Namespace) -> None:
    from redis.asyncio import Redis

    import remem
    from remem.api.app import create_app
    from remem.config import Settings

    prefix = f"cpu{uuid.uuid4().hex[:6]}:"
    settings = Settings(
        redis_url=args.redis_url,
        key_prefix=prefix,
        working_memory_index=f"{prefix}working_memory_idx",
        long_term_memory_index=f"{prefix}long_term_memory_idx",
    )
    app = create_app(settings)
    redis = Redis.from_url(args.redis_url, decode_responses=True)
    pid = int(args.redis_pid)
    print(f"child: remem from {Path(remem.__file__).parent}", file=sys.stderr)
    async with app.router.lifespan_context(app):
        for start in range(0, args.memories, 256):
            batch = [
                {
                    "id": f"m{i}",
                    "text": text(i),
                    "namespace": NS,
                    "user_id": f"u{i % 50}",
                    "topics": [OBJECTS[i % len(OBJECTS)]],
                }
                for i in range(start, min(args.memories, start + 256))
            ]
            body = json.dumps({"memories": batch, "deduplicate": False}).encode()
            await caller(app, "POST", "/v1/long-term-memory/", body=body)()
        rng = random.Random(1)
        questions = [
            f"what does {rng.choice(SUBJECTS)} like about {rng.choice(OBJECTS)}?"
            for _ in range(200)
        ]
        messages = [
            {
                "role": "user" if k % 2 == 0 else "assistant",
                "content": f"Turn {k}: the user asks about the deployment plan for the memory "
                "server and the agent answers briefly."[:100],
            }
            for k in range(4)
        ]
        session = json.dumps(
            {"messages": messages, "namespace": NS, "user_id": USER, "ttl_seconds": 3600}
        ).encode()
        calls: dict[str, list[Call]] = {}
        for mode in ("semantic", "hybrid", "keyword"):
            calls[mode] = [
                caller(
                    app,
                    "POST",
                    "/v1/long-term-memory/search",
                    body=json.dumps(
                        {"text": q, "search_mode": mode, "namespace": {"eq": NS}, "limit": 10}
                    ).encode(),
                )
                for q in questions
            ]
        sids = [f"s{i}" for i in range(args.requests)]
        calls["PUT wm"] = [
            caller(app, "PUT", f"/v1/working-memory/{s}", b"", session) for s in sids
        ]
        wm_query = f"namespace={NS}&user_id={USER}".encode()
        calls["GET wm"] = [caller(app, "GET", f"/v1/working-memory/{s}", wm_query) for s in sids]
        for put in calls["PUT wm"]:  # the sessions GET reads
            await put()
        results: dict[str, list[dict[str, Any]]] = {k: [] for k in args.kinds}
        profiler = cProfile.Profile() if args.profile else None
        for round_ in range(args.rounds + 1):  # round 0 warms up, unrecorded
            for kind in args.kinds:
                todo = calls[kind]
                n = args.requests
                queue = iter(range(n))

                async def worker(todo: list[Call] = todo, queue: Any = queue) -> None:
                    for i in queue:
                        await todo[i % len(todo)]()

                before = await commandstats(redis)
                if profiler and round_:
                    profiler.enable()
                cpu0, r0 = time.process_time(), redis_cpu_usec(pid)
                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                cpu1, r1 = time.process_time(), redis_cpu_usec(pid)
                if profiler:
                    profiler.disable()
                after = await commandstats(redis)
                if round_ == 0:
                    continue
                commands = {}
                for name, (calls_, usec) in after.items():
                    c0, u0 = before.get(name, (0, 0.0))
                    if name in ("info",) or calls_ == c0:
                        continue
                    commands[name] = ((calls_ - c0) / n, (usec - u0) / n)
                results[kind].append(
                    {"app": (cpu1 - cpu0) / n * 1e6, "redis": (r1 - r0) / n, "commands": commands}
                )
        info = await redis.info("memory")
    await redis.aclose()
    if profiler:
        profiler.dump_stats(args.profile)
    print(json.dumps({"results": results, "used_memory": info["used_memory"]}))


# -- the parent: both versions, the table ----------------------------------------------------------
def run_version(args: argparse.Namespace, version: str, src: Path) -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "src"))
    from remem.store.embedded import EmbeddedRedis

    data = Path(tempfile.mkdtemp(prefix="cpu-", dir="/tmp"))
    server = EmbeddedRedis(data)
    url = server.acquire()
    try:
        pid = json.loads((data / "redis.json").read_text())["pid"]
        env = dict(os.environ, PYTHONPATH=str(src))
        env = {k: v for k, v in env.items() if not k.startswith("REMEM_")}
        cmd = [sys.executable, __file__, "--child", "--redis-url", url, "--redis-pid", str(pid)]
        cmd += ["--memories", str(args.memories), "--requests", str(args.requests)]
        cmd += ["--rounds", str(args.rounds), "--concurrency", str(args.concurrency)]
        cmd += ["--kinds", *args.kinds]
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            cmd += ["--profile", str(Path(args.profile) / f"{version}.prof")]
        out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
        return dict(json.loads(out.stdout.splitlines()[-1]))
    finally:
        server.release()
        shutil.rmtree(data, ignore_errors=True)


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    print(f"\n`python bench/cpu_per_request.py {' '.join(sys.argv[1:])}`")
    print(f"{args.memories:,} memories; {args.rounds} rounds x {args.requests} requests at "
          f"concurrency {args.concurrency}; median µs of CPU per request\n")  # fmt: skip
    print("| request | app old | app new | new/old | Redis old | Redis new | new/old |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for kind in args.kinds:
        for pair in range(args.pairs):
            old, new = (runs[v][pair]["results"][kind] for v in ("old", "new"))
            ao, an, ro, rn = med(old, "app"), med(new, "app"), med(old, "redis"), med(new, "redis")
            print(f"| {kind} | {ao:.0f} | {an:.0f} | {an / ao:.2f} | {ro:.0f} | {rn:.0f} "
                  f"| {rn / ro:.2f} |")  # fmt: skip
    print("\nRedis commands per request: calls, µs (INFO commandstats), old -> new\n")
    for kind in args.kinds:
        old, new = (runs[v][0]["results"][kind] for v in ("old", "new"))
        names = sorted({c for r in old + new for c in r["commands"]})
        parts = []
        for name in names:

            def pick(rows: list[dict[str, Any]], i: int, name: str = name) -> float:
                return statistics.median(r["commands"].get(name, (0, 0))[i] for r in rows)

            was, now = (
                f"{pick(old, 0):.2f}x{pick(old, 1):.0f}",
                f"{pick(new, 0):.2f}x{pick(new, 1):.0f}",
            )
            parts.append(f"{name} {was} -> {now}")
        print(f"- {kind}: " + "; ".join(parts))
    for v in ("old", "new"):
        print(f"used_memory {v}: {runs[v][0]['used_memory']:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the src directory of the version to compare")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument(
        "--profile", metavar="DIR", help="cProfile the measured rounds into DIR/{old,new}.prof"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--redis-pid", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args))
        return
    if not args.old:
        parser.error("--old is required")
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for _ in range(args.pairs):
        for version, src in (("old", args.old), ("new", args.new)):
            print(f"-- {version}: {src}", file=sys.stderr)
            runs[version].append(run_version(args, version, src.resolve()))
    report(args, runs)


if __name__ == "__main__":
    main()
