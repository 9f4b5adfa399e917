"""CPU time per request of two remem versions, each on its own Redis, as a ratio.

    python bench/cpu_per_request.py --old /path/to/old/src [--memories 10000] [--requests 400]
                                    [--rounds 7] [--concurrency 16] [--kinds ...] [--profile DIR]

Wall-clock throughput means nothing on a shared machine; CPU time does. For each version (this
checkout's ``src``, and ``--old``, the ``src`` of another checkout, e.g. a detached worktree of
an older commit) a child process runs remem's app as an ASGI app (no HTTP server: the figure is
the app's part of a request) on its own embedded Redis and stores ``--memories`` memories (the
narrow corpus of ``long_term.py``) and one session a request. Then the parent has the two
children run rounds in turn (the order drawn at random each time, so a busy neighbour hits both
alike): ``--requests`` requests of one kind, ``--concurrency`` at a time. Per request:

- app: the child's CPU time (``time.process_time``: the app, the query embedding and the ASGI
  calls, which are the same code in both versions);
- Redis: the CPU time of Redis's main thread (/proc/<pid>/schedstat: run time only, so a busy
  neighbour does not inflate it), which includes reading requests and writing replies;
- the calls and usec of each Redis command (``INFO commandstats`` deltas).

The table gives the median over rounds and the median of the rounds' new/old ratios with their
range. ``--profile DIR`` writes each child's cProfile of the measured rounds to DIR/old.prof and
DIR/new.prof.

``--scoped`` serves the new version's requests as a caller scoped to the benchmark's namespace
(a bearer token mapped to a ``Principal`` by a table, no token checking): the cost of
authorisation (remem.auth.guard) for a tenant, against ``--old``'s auth-free requests. Without
it both run as the local admin (auth disabled).

Kinds: ``create`` stores one new memory a request (deduplication on, as the official client
sends it); ``PUT wm`` writes the same ``--requests`` sessions again each round (the usual agent
pattern); ``PUT new wm`` creates a new session with every request. The app runs its in-process
worker unless ``REMEM_RUN_WORKER=false`` is set (the request path alone; the worker's share,
such as scheduling due work, is then left out of both versions).
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
from pathlib import Path
from typing import Any

from _asgi import Call
from _asgi import caller as asgi_caller

NS, USER = "bench", "bench-user"
SUBJECTS = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"]
VERBS = ["likes", "visited", "is learning", "bought", "cooked", "read about", "wants", "fixed"]
OBJECTS = ["green tea", "Lisbon", "the violin", "a red bicycle", "spicy ramen", "black holes",
           "a new laptop", "the garden fence", "Python typing", "jazz records",
           "a sailboat"]  # fmt: skip
PROTOCOL = "@@ "  # the lines a child answers its parent with (anything else is ignored)
KINDS = ("semantic", "hybrid", "keyword", "create", "PUT wm", "PUT new wm", "GET wm")

EXTRA_HEADERS: list[tuple[bytes, bytes]] = []  # the bearer token, with --scoped


# -- the child: one version's app on one Redis -----------------------------------------------------
def caller(app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"") -> Call:
    return asgi_caller(app, method, path, query, body, EXTRA_HEADERS)


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
    if args.scoped:  # a tenant of the one namespace the benchmark writes (see the docstring)
        from remem.auth.principal import Principal

        tenant = Principal("token:bench", (NS,), None, "write", via="token")

        class Table:
            async def authenticate(self, authorization: str | None) -> Principal:
                assert authorization == "Bearer bench"
                return tenant

        app = create_app(settings, authenticator=Table())
        EXTRA_HEADERS.append((b"authorization", b"Bearer bench"))
    else:
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
        fresh = iter(range(1 << 62))  # "PUT new wm": every request creates a session

        async def put_new() -> bytes:
            path = f"/v1/working-memory/new{next(fresh)}"
            return await caller(app, "PUT", path, b"", session)()

        calls["PUT new wm"] = [put_new]
        created = iter(range(args.memories, 1 << 62))  # "create": one new memory a request

        async def create() -> bytes:
            i = next(created)
            record = {"text": text(i) + f" #{i}", "namespace": NS, "user_id": f"u{i % 50}"}
            body = json.dumps({"memories": [record]}).encode()
            return await caller(app, "POST", "/v1/long-term-memory/", body=body)()

        calls["create"] = [create]
        wm_query = f"namespace={NS}&user_id={USER}".encode()
        calls["GET wm"] = [caller(app, "GET", f"/v1/working-memory/{s}", wm_query) for s in sids]
        for put in calls["PUT wm"]:  # the sessions GET reads
            await put()
        profiler = cProfile.Profile() if args.profile else None
        print(PROTOCOL + "ready", flush=True)
        loop = asyncio.get_running_loop()
        while (line := await loop.run_in_executor(None, sys.stdin.readline)).strip():
            order = json.loads(line)
            todo, n = calls[order["kind"]], args.requests
            queue = iter(range(n))

            async def worker(todo: list[Call] = todo, queue: Any = queue) -> None:
                for i in queue:
                    await todo[i % len(todo)]()

            before = await commandstats(redis)
            if profiler and order["record"]:
                profiler.enable()
            cpu0, r0 = time.process_time(), redis_cpu_usec(pid)
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            cpu1, r1 = time.process_time(), redis_cpu_usec(pid)
            if profiler:
                profiler.disable()
            after = await commandstats(redis)
            commands = {}
            for name, (count, usec) in after.items():
                c0, u0 = before.get(name, (0, 0.0))
                if name != "info" and count != c0:
                    commands[name] = ((count - c0) / n, (usec - u0) / n)
            result = {"app": (cpu1 - cpu0) / n * 1e6, "redis": (r1 - r0) / n, "commands": commands}
            print(PROTOCOL + json.dumps(result), flush=True)
        info = await redis.info("memory")
    await redis.aclose()
    if profiler:
        profiler.dump_stats(args.profile)
    print(PROTOCOL + json.dumps({"used_memory": info["used_memory"]}), flush=True)


# -- the parent: both versions, rounds interleaved, the table ------------------------------------
class Version:
    """One version's child process on its own embedded Redis."""

    def __init__(self, args: argparse.Namespace, name: str, src: Path) -> None:
        from remem.store.embedded import EmbeddedRedis

        self.name = name
        self.data = Path(tempfile.mkdtemp(prefix="cpu-", dir="/tmp"))  # short: unix socket
        self.server = EmbeddedRedis(self.data)
        url = self.server.acquire()
        pid = json.loads((self.data / "redis.json").read_text())["pid"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMEM_")}
        env["PYTHONPATH"] = str(src)
        cmd = [sys.executable, __file__, "--child", "--redis-url", url, "--redis-pid", str(pid)]
        cmd += ["--memories", str(args.memories), "--requests", str(args.requests)]
        cmd += ["--concurrency", str(args.concurrency)]
        if args.scoped and name == "new":
            cmd += ["--scoped"]
        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            cmd += ["--profile", str(Path(args.profile) / f"{name}.prof")]
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def receive(self) -> Any:
        assert self.proc.stdout
        for line in self.proc.stdout:
            if line.startswith(PROTOCOL):
                body = line.removeprefix(PROTOCOL).strip()
                return body if body == "ready" else json.loads(body)
        raise RuntimeError(f"{self.name}: the child exited ({self.proc.wait()})")

    def round(self, kind: str, record: bool) -> dict[str, Any]:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps({"kind": kind, "record": record}) + "\n")
        self.proc.stdin.flush()
        return dict(self.receive())

    def stop(self) -> int:
        """End the child (an empty line); Redis ``used_memory`` as it last reported."""
        used = 0
        try:
            if self.proc.poll() is None and self.proc.stdin:
                self.proc.stdin.write("\n")
                self.proc.stdin.flush()
                used = int(self.receive()["used_memory"])
                self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.server.release()
            shutil.rmtree(self.data, ignore_errors=True)
        return used


def compare(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    versions = {}
    try:
        for name, src in (("old", args.old), ("new", args.new)):
            versions[name] = Version(args, name, src.resolve())
        for version in versions.values():  # both load their memories at once
            version.receive()
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {k: [] for k in args.kinds} for name in versions
        }
        rng = random.Random(0)
        for round_ in range(args.rounds + 1):  # round 0 warms up, unrecorded
            print(f"round {round_}/{args.rounds}", file=sys.stderr)
            for kind in args.kinds:
                for name in rng.sample(list(versions), len(versions)):
                    result = versions[name].round(kind, record=round_ > 0)
                    if round_:
                        runs[name][kind].append(result)
    finally:
        used = {name: version.stop() for name, version in versions.items()}
    report(args, runs, used)


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def report(
    args: argparse.Namespace, runs: dict[str, dict[str, list[dict[str, Any]]]], used: dict[str, int]
) -> None:
    print(f"\n`python bench/cpu_per_request.py {' '.join(sys.argv[1:])}`")
    print(f"old: {args.old}, new: {args.new}; {args.memories:,} memories; {args.rounds} rounds of "
          f"{args.requests} requests at concurrency {args.concurrency}, old and new in turn; "
          "µs of CPU per request, median over rounds; new/old: the median of the rounds' "
          "ratios [lowest-highest]\n")  # fmt: skip
    print("| request | app old | app new | new/old | Redis old | Redis new | new/old |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for kind in args.kinds:
        old, new = runs["old"][kind], runs["new"][kind]
        cells = []
        for part in ("app", "redis"):
            ratios = sorted(n[part] / o[part] for o, n in zip(old, new, strict=True) if o[part])
            spread = f"{statistics.median(ratios):.2f} [{ratios[0]:.2f}-{ratios[-1]:.2f}]"
            cells += [f"{med(old, part):.0f}", f"{med(new, part):.0f}", spread]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    print("\nRedis commands per request: calls x µs (INFO commandstats), old -> new\n")
    for kind in args.kinds:
        old, new = runs["old"][kind], runs["new"][kind]
        names = sorted({c for r in old + new for c in r["commands"]})
        parts = []
        for name in names:

            def pick(rows: list[dict[str, Any]], i: int, name: str = name) -> float:
                return statistics.median(r["commands"].get(name, (0, 0))[i] for r in rows)

            was = f"{pick(old, 0):.2f}x{pick(old, 1):.0f}"
            now = f"{pick(new, 0):.2f}x{pick(new, 1):.0f}"
            parts.append(f"{name} {was} -> {now}")
        print(f"- {kind}: " + "; ".join(parts))
    print("\nRedis used_memory: " + ", ".join(f"{v} {b:,} bytes" for v, b in used.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="the src directory of the version to compare")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument(
        "--profile", metavar="DIR", help="cProfile the measured rounds into DIR/{old,new}.prof"
    )
    parser.add_argument(
        "--scoped", action="store_true", help="the new version's caller is a scoped tenant"
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
    compare(args)


if __name__ == "__main__":
    main()
