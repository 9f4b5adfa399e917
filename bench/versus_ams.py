"""remem beside the real Agent Memory Server 0.15.2: the same requests, one Redis, interleaved.
Without AMS it is the table of what each route the official client uses costs Redis in remem.

    python bench/versus_ams.py [--ams-venv /tmp/ams] [--tools ../shared/upstream-ams]
                               [--requests 300] [--rounds 5] [--concurrency 16] [--remem-only]

One Redis with the Query Engine on TCP (the binaries remem's embedded Redis uses) holds both
servers' data: remem under its ``remem:`` prefix (its indexes renamed so they do not meet AMS's
``working_memory_idx``), AMS under its own keys. AMS runs as ../shared/upstream-ams says: its
virtualenv (``--ams-venv``), ``env.sh`` (every LLM feature off, so no background work) and
``embed_stub.py --mode hash`` for its embeddings (an OpenAI-compatible HTTP server, outside the
measured processes; remem embeds in-process with its bundled static model). remem runs with
``REMEM_RUN_WORKER=false``: its background work (extraction of each message) is scheduled but
not run, the like of AMS's settings. Without the venv or the tools, AMS is skipped with a
message and the table is remem's alone.

Both servers are given the same data first: 1,000 sessions in namespace ``n1k``, 5,000 in
``n5k`` (two messages each), ``--requests`` sessions of 10 messages in ``bench`` and 1,000
long-term memories in ``bench``. Then, for each round and each request kind, the two servers run
``--requests`` requests at ``--concurrency``, in a random order each time. Per request:
throughput (requests/s), p95 latency, the server process's CPU, the CPU of Redis (all its
threads, /proc/<pid>/task/*/schedstat) and the Redis commands (``INFO commandstats`` deltas).
A cell is measured until Redis goes quiet after it, so work a request leaves to a background
task (AMS indexes created memories that way) is counted with it. The table gives medians over
rounds and remem/AMS ratios; below 1.0 remem is cheaper or faster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import LeanClient, descendants, proc_cpu_seconds, run_cell, threads_cpu_usec
from _server import free_port, remem_command

from remem.store.embedded import find_binaries

NAMESPACES = {"n1k": 1_000, "n5k": 5_000}
MEMORIES = 1_000
WORDS = [
    "coffee",
    "tea",
    "morning",
    "run",
    "park",
    "dog",
    "cat",
    "Paris",
    "Berlin",
    "guitar",
    "piano",
    "book",
    "movie",
    "garden",
    "bike",
    "train",
    "office",
    "remote",
    "project",
    "deadline",
    "sister",
    "brother",
    "trip",
    "beach",
    "mountain",
    "dinner",
    "recipe",
]
QUESTIONS = [
    "what does the user drink in the morning",
    "where did the user travel",
    "which instrument does the user play",
    "what pet does the user have",
    "how does the user commute to the office",
]


def sentence(i: int, words: int = 10) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def session_body(ns: str, messages: int, seed: int) -> bytes:
    said = [
        {"role": "user" if k % 2 == 0 else "assistant", "content": sentence(seed * 100 + k)}
        for k in range(messages)
    ]
    return json.dumps({"messages": said, "namespace": ns}).encode()


@dataclass
class Target:
    """One server under test: its base URL, the processes whose CPU counts as its own."""

    name: str
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p for proc in self.procs for p in descendants(proc.pid)]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: {url} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"bench: {url} did not answer in {seconds:.0f}s")


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binaries, port = find_binaries(), free_port()
    command = [str(binaries.server), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--dir", str(workdir), "--save", "", "--appendonly", "no"]
    command += ["--hash-max-listpack-value", "4096"]
    command += ["--loadmodule", str(binaries.search), "--loadmodule", str(binaries.json)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}"
        except redis.ConnectionError:
            time.sleep(0.1)
    sys.exit("bench: Redis did not start")


def start_remem(url: str, workdir: Path) -> Target:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMEM_")}
    env.update(
        REDIS_URL=url,
        REMEM_RUN_WORKER="false",
        REMEM_LOG_LEVEL="warning",
        REMEM_WORKING_MEMORY_INDEX="remem_working_memory_idx",
        REMEM_LONG_TERM_MEMORY_INDEX="remem_long_term_memory_idx",
    )
    log = workdir / "remem.log"
    command = [*remem_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/v1/health", proc, log)
    return Target("remem", port, [proc])


def start_ams(url: str, venv: Path, tools: Path, workdir: Path) -> Target | None:
    agent_memory = venv / "bin" / "agent-memory"
    missing = [
        p for p in (agent_memory, tools / "env.sh", tools / "embed_stub.py") if not p.exists()
    ]
    if missing:
        print(f"AMS 0.15.2 skipped: {', '.join(map(str, missing))} not found (see --help)")
        return None
    stub_port, port = free_port(), free_port()
    stub_log = workdir / "stub.log"
    with stub_log.open("wb") as out:
        stub = subprocess.Popen(
            [
                sys.executable,
                str(tools / "embed_stub.py"),
                "--port",
                str(stub_port),
                "--mode",
                "hash",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_http(f"http://127.0.0.1:{stub_port}/stats", stub, stub_log)
    env = {**os.environ, "REDIS_URL": url, "AMS_VENV": str(venv)}
    env["STUB_URL"] = f"http://127.0.0.1:{stub_port}/v1"
    command = f". {tools / 'env.sh'} && exec {agent_memory} api --host 127.0.0.1 --port {port}"
    command += " --task-backend asyncio"
    log = workdir / "ams.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], env=env, stdout=out, stderr=out)
    wait_http(f"http://127.0.0.1:{port}/v1/health", proc, log)
    target = Target("AMS 0.15.2", port, [proc])
    target.stub = stub  # type: ignore[attr-defined]  # stopped with it, not measured
    return target


Request = tuple[str, str, bytes]


def kinds(args: argparse.Namespace) -> dict[str, Callable[[int, int], Request]]:
    """Each kind of request, as (method, target, body) for request ``i`` of round ``r``."""
    n = args.requests

    def search(mode: str | None) -> Callable[[int, int], Request]:
        def make(i: int, r: int) -> Request:
            body: dict[str, Any] = {
                "text": QUESTIONS[i % len(QUESTIONS)],
                "namespace": {"eq": "bench"},
                "limit": 10,
            }
            if mode:
                body["search_mode"] = mode
            return "POST", "/v1/long-term-memory/search", json.dumps(body).encode()

        return make

    def prompt(mode: str | None) -> Callable[[int, int], Request]:
        def make(i: int, r: int) -> Request:
            search: dict[str, Any] = {"text": QUESTIONS[i % len(QUESTIONS)], "limit": 5,
                                      "namespace": {"eq": "bench"}}  # fmt: skip
            if mode:
                search["search_mode"] = mode
            body = {
                "query": QUESTIONS[i % len(QUESTIONS)],
                "session": {"session_id": f"s{i % n}", "namespace": "bench"},
                "long_term_search": search,
            }
            return "POST", "/v1/memory/prompt", json.dumps(body).encode()

        return make

    def create(i: int, r: int) -> Request:
        record = {"id": f"new-{r}-{i}", "text": sentence(10_000 + r * n + i), "namespace": "bench"}
        return "POST", "/v1/long-term-memory/", json.dumps({"memories": [record]}).encode()

    return {
        "PUT session (10 messages)": lambda i, r: (
            "PUT", f"/v1/working-memory/s{i}?namespace=bench", session_body("bench", 10, i)
        ),
        "GET session": lambda i, r: ("GET", f"/v1/working-memory/s{i}?namespace=bench", b""),
        "list sessions, 1,000": lambda i, r: (
            "GET", "/v1/working-memory/?namespace=n1k&limit=20&offset=0", b""
        ),
        "list sessions, 5,000": lambda i, r: (
            "GET", "/v1/working-memory/?namespace=n5k&limit=20&offset=0", b""
        ),
        "list sessions, all": lambda i, r: ("GET", "/v1/working-memory/?limit=20&offset=0", b""),
        "create 1 memory": create,
        "search, no mode": search(None),
        "search semantic": search("semantic"),
        "search hybrid": search("hybrid"),
        "GET memory": lambda i, r: ("GET", f"/v1/long-term-memory/m{i % MEMORIES}", b""),
        "memory prompt, no mode": prompt(None),
        "memory prompt, semantic": prompt("semantic"),
    }  # fmt: skip


async def send_all(target: Target, requests: list[Request], concurrency: int) -> None:
    client = LeanClient("127.0.0.1", target.port)
    prepared = [client.prepare(m, t, b) for m, t, b in requests]

    async def op(i: int) -> bool:
        status, body = await client.send(prepared[i])
        if status >= 300:
            raise RuntimeError(f"{target.name}: {requests[i][:2]} -> {status} {body[:300]!r}")
        return True

    await run_cell("seed", op, len(prepared), concurrency)
    await client.close()


async def seed(target: Target, args: argparse.Namespace, r: redis.Redis) -> None:
    """The same data in each server, through its API."""
    started = time.monotonic()
    todo: list[Request] = []
    for ns, count in NAMESPACES.items():
        todo += [
            ("PUT", f"/v1/working-memory/{ns}-{i}?namespace={ns}", session_body(ns, 2, i))
            for i in range(count)
        ]
    todo += [
        ("PUT", f"/v1/working-memory/s{i}?namespace=bench", session_body("bench", 10, i))
        for i in range(args.requests)
    ]
    # One memory alone first: AMS creates its index on the first write, and concurrent first
    # writes lose memories (each tries to create it; all but one fail after answering 200).
    batches = [[0], *(range(max(1, s), s + 50) for s in range(0, MEMORIES, 50))]
    creates = [
        ("POST", "/v1/long-term-memory/", json.dumps({"memories": [
            {"id": f"m{i}", "text": sentence(i), "namespace": "bench"} for i in batch
        ]}).encode())
        for batch in batches
    ]  # fmt: skip
    await send_all(target, creates[:1], 1)
    await readable(target, [0])
    await send_all(target, todo + creates[1:], 16)
    await readable(target, list(range(MEMORIES)))
    quiet(r)
    print(f"{target.name}: seeded in {time.monotonic() - started:.0f}s", file=sys.stderr)


async def readable(target: Target, ids: list[int]) -> None:
    """Wait until every memory ``m<i>`` answers a GET (AMS indexes them in the background)."""
    client = LeanClient("127.0.0.1", target.port)
    missing = ids
    for _ in range(600):  # AMS indexes created memories in a background task
        found = [
            (await client.send(client.prepare("GET", f"/v1/long-term-memory/m{i}")))[0]
            for i in missing
        ]
        missing = [i for i, status in zip(missing, found, strict=True) if status != 200]
        if not missing:
            break
        await asyncio.sleep(0.5)
    await client.close()
    if missing:
        sys.exit(f"bench: {target.name}: {len(missing)} memories never readable")


def calls(r: redis.Redis) -> dict[str, tuple[int, float]]:
    stats = r.info("commandstats")
    return {
        k.removeprefix("cmdstat_"): (int(v["calls"]), float(v["usec"])) for k, v in stats.items()
    }


def quiet(r: redis.Redis, pid: int = 0, still: float = 0.6, most: float = 30.0) -> None:
    """Wait until Redis has run no command but INFO for ``still`` seconds and, given its
    ``pid``, its threads have used under 2% of a core meanwhile (the Query Engine frees what
    writes replaced on a thread of its own: that work belongs to the cell that wrote)."""
    deadline, last, since = time.monotonic() + most, -1, time.monotonic()
    cpu = threads_cpu_usec(pid) if pid else 0.0
    while time.monotonic() < deadline:
        now = sum(c for name, (c, _) in calls(r).items() if name != "info")
        used = threads_cpu_usec(pid) if pid else 0.0
        if now != last:
            last, since, cpu = now, time.monotonic(), used
        elif time.monotonic() - since >= still:
            if used - cpu < 0.02 * still * 1e6:
                return
            since, cpu = time.monotonic(), used
        time.sleep(0.1)


def main_thread_usec(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e3


@dataclass
class Cell:
    ops: float
    p95_ms: float
    server_us: float
    redis_us: float
    main_us: float  # Redis's main thread alone, where commands run
    commands: dict[str, tuple[float, float]]  # name -> (calls, usec) per request


async def measure(
    target: Target, kind: Callable[[int, int], Request], rnd: int, args: argparse.Namespace,
    r: redis.Redis, redis_pid: int,
) -> Cell:  # fmt: skip
    n = args.requests
    client = LeanClient("127.0.0.1", target.port)
    requests = [kind(i, rnd) for i in range(n)]
    prepared = [client.prepare(m, t, b) for m, t, b in requests]
    failures: list[str] = []

    async def op(i: int) -> bool:
        status, body = await client.send(prepared[i])
        if status >= 300 and len(failures) < 3:
            failures.append(f"{requests[i][:2]} -> {status} {body[:200]!r}")
        return status < 300

    quiet(r, redis_pid)
    pids = target.pids
    m0 = main_thread_usec(redis_pid)
    before, cpu0, r0 = calls(r), sum(map(proc_cpu_seconds, pids)), threads_cpu_usec(redis_pid)
    cell = await run_cell("", op, n, args.concurrency)
    quiet(r, redis_pid)
    after, cpu1, r1 = calls(r), sum(map(proc_cpu_seconds, pids)), threads_cpu_usec(redis_pid)
    m1 = main_thread_usec(redis_pid)
    await client.close()
    if cell.errors:
        sys.exit(f"bench: {target.name}: {cell.errors} failed requests: {failures}")
    commands = {
        name: ((c - before.get(name, (0, 0))[0]) / n, (u - before.get(name, (0, 0.0))[1]) / n)
        for name, (c, u) in after.items()
        if name != "info" and c != before.get(name, (0, 0))[0]
    }
    server = (cpu1 - cpu0) / n * 1e6
    return Cell(cell.ops, cell.p95_ms, server, (r1 - r0) / n, (m1 - m0) / n, commands)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: dict[tuple[str, str], list[Cell]], names: list[str], kinds_: list[str],
           args: argparse.Namespace) -> None:  # fmt: skip
    print(f"\n`python bench/versus_ams.py --requests {args.requests} --rounds {args.rounds} "
          f"--concurrency {args.concurrency}`\n")  # fmt: skip
    print(
        "Medians over rounds, per request: requests/s, p95 ms, server process CPU µs, Redis "
        "CPU µs (every thread; the last column: its main thread alone, where commands run)"
        + ("; remem/AMS ratios" if len(names) > 1 else "")
        + ".\n"
    )
    if len(names) > 1:
        head = "| request | req/s remem | req/s AMS | p95 remem | p95 AMS | server µs remem | "
        head += "server µs AMS | Redis µs remem | Redis µs AMS | Redis remem/AMS | "
        head += "main thread remem/AMS |"
        print(head)
        print("|---" + "|--:" * 10 + "|")
    else:
        print("| request | req/s | p95 ms | server µs | Redis µs | Redis commands per request |")
        print("|---|--:|--:|--:|--:|---|")
    for kind in kinds_:
        cells = {name: results[(kind, name)] for name in names}
        m = {name: {f: median([getattr(c, f) for c in cs]) for f in ("ops", "p95_ms",
             "server_us", "redis_us", "main_us")} for name, cs in cells.items()}  # fmt: skip
        if len(names) > 1:
            a, b = m[names[0]], m[names[1]]
            print(f"| {kind} | {a['ops']:.0f} | {b['ops']:.0f} | {a['p95_ms']:.1f} | "
                  f"{b['p95_ms']:.1f} | {a['server_us']:.0f} | {b['server_us']:.0f} | "
                  f"{a['redis_us']:.0f} | {b['redis_us']:.0f} | "
                  f"**{a['redis_us'] / b['redis_us']:.2f}** | "
                  f"{a['main_us'] / b['main_us']:.2f} |")  # fmt: skip
        else:
            a = m[names[0]]
            print(f"| {kind} | {a['ops']:.0f} | {a['p95_ms']:.1f} | {a['server_us']:.0f} | "
                  f"{a['redis_us']:.0f} | {commands_line(cells[names[0]][-1])} |")  # fmt: skip
    if len(names) > 1:
        print("\nRedis commands per request (calls x µs, last round):\n")
        for kind in kinds_:
            for name in names:
                print(f"- {kind}, {name}: {commands_line(results[(kind, name)][-1])}")


def commands_line(cell: Cell) -> str:
    rows = sorted(cell.commands.items(), key=lambda kv: -kv[1][1])
    return ", ".join(f"{k} {c:.2f}x{u:.0f}" for k, (c, u) in rows if c >= 0.01) or "none"


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="versus-ams-"))
    redis_proc, url = start_redis(workdir)
    r = redis.Redis.from_url(url, decode_responses=True)
    targets: list[Target] = []
    try:
        targets.append(start_remem(url, workdir))
        if not args.remem_only and (ams := start_ams(url, args.ams_venv, args.tools, workdir)):
            targets.append(ams)
        for target in targets:
            await seed(target, args, r)
        table = kinds(args)
        wanted = [k for k in table if not args.kinds or k in args.kinds]
        results: dict[tuple[str, str], list[Cell]] = {}
        for rnd in range(args.rounds):
            for kind in wanted:
                for target in random.sample(targets, len(targets)):
                    cell = await measure(target, table[kind], rnd, args, r, redis_proc.pid)
                    results.setdefault((kind, target.name), []).append(cell)
            print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr)
        report(results, [t.name for t in targets], wanted, args)
    finally:
        for target in targets:
            target.stop()
            if stub := getattr(target, "stub", None):
                stub.terminate()
                stub.wait(10)
        redis_proc.terminate()
        redis_proc.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--ams-venv", type=Path, default=Path(os.environ.get("AMS_VENV", "/tmp/ams"))
    )
    parser.add_argument("--tools", type=Path, default=Path(__file__).resolve().parents[2]
                        / "shared" / "upstream-ams", help="embed_stub.py and env.sh")  # fmt: skip
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kinds", nargs="*", help="only these request kinds (their names)")
    parser.add_argument("--remem-only", action="store_true", help="the cost table of remem alone")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
