"""Working-memory benchmark: remem's REST API against raw redis-py on the same Redis.

    python bench/working_memory.py [--quick] [--workers 1 2] [--client lean|aiohttp]
                                    [--profile DIR]

For each ``--workers`` value, in one run:

1. starts ``remem serve --workers N`` on a free port with REMEM_DATA_DIR in a fresh temp dir
   (embedded Redis on a unix socket, address read from <data_dir>/redis.json);
2. PUT and GET /v1/working-memory/{id} (4 messages of ~100 chars, namespace "bench", ttl 3600)
   at concurrency 1 and 16 over keep-alive HTTP/1.1, then the same work with redis.asyncio
   (RESP3) straight on that Redis: JSON.SET + EXPIRE (one pipelined round trip) and JSON.GET;
3. loads 100,000 sessions into namespace "bench2" (pipelined JSON.SET of exactly the document
   remem's PUT writes) plus 10% into "bench3", and times the first page and the page at offset
   50,000 of GET /v1/working-memory/?namespace=bench2 against the naive FT.SEARCH ... SORTBY
   created_at DESC LIMIT <offset> 20, checking both pages against ranks computed here;
4. reports Redis memory, stops the server (and so the embedded Redis) and prints a markdown table.

The load generator is a single asyncio process (uvloop when installed): on a 2-core machine it
shares the cores with the server and Redis, so it must stay cheap. The default HTTP client is a
minimal keep-alive HTTP/1.1 client on asyncio.Protocol + httptools (the parser uvicorn uses,
installed with uvicorn[standard]): ~30-75 µs of CPU per request, against 150-250 µs for aiohttp
(``--client aiohttp``), which on its own caps a load process near 2,500 requests/s. Each cell's
CPU per operation is measured from /proc and printed for the server, Redis, the load process and
everything else on the machine ("other", also shown in cores: a busy neighbour skews results).
With ``--profile DIR`` each worker is sampled with py-spy during extra, unmeasured c=16 cells
and the hottest frames are printed (the measured figures are taken without py-spy attached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import (
    AiohttpClient,
    CellResult,
    CpuMeter,
    HttpClient,
    LeanClient,
    connections_per_process,
    run_cell,
    summarize_collapsed,
)
from _server import Server, alive

from remem.store.keys import Keys

KEYS = Keys("remem:")  # the server's default key prefix (REMEM_KEY_PREFIX is cleared below)
INDEX = "working_memory_idx"
NS, USER = "bench", "bench-user"
LIST_NS, OTHER_NS = "bench2", "bench3"
TTL = 3600

TARGETS = {  # (workload, concurrency, metric): (bound, ">=" or "<=")
    ("PUT", 16, "ops"): (2200, ">="),
    ("GET", 16, "ops"): (3300, ">="),
    ("PUT", 1, "p95"): (1.5, "<="),
    ("GET", 1, "p95"): (1.5, "<="),
}


def messages() -> list[dict[str, str]]:
    text = (
        "Turn {k}: the user asks about the deployment plan for the memory server and the "
        "agent answers briefly."
    )
    return [
        {"role": "user" if k % 2 == 0 else "assistant", "content": text.format(k=k)[:100]}
        for k in range(4)
    ]


# -- one run ---------------------------------------------------------------------------------------
@dataclass
class ListResult:
    name: str
    remem: CellResult
    raw: CellResult
    checks: dict[str, bool]


@dataclass
class RunResult:
    workers: int
    cells: dict[tuple[str, str, int], CellResult] = field(default_factory=dict)
    lists: list[ListResult] = field(default_factory=list)
    memory: str = ""
    load_rate: float = 0.0
    dbsize: int = 0
    profiles: list[str] = field(default_factory=list)
    conn_split: dict[int, list[int]] = field(default_factory=dict)


async def run(args: argparse.Namespace, workers: int) -> RunResult:
    server = Server(workers)
    print(f"\n== remem serve --workers {workers} (data {server.data_dir}) ==")
    server.start()
    result = RunResult(workers)
    try:
        print(f"  server pids {server.server_pids()}, embedded Redis {server.redis_url}")
        await _bench(args, server, result)
    finally:
        server.stop()
        print("  server stopped" + ("" if not alive(server.redis_pid) else " (Redis still up!)"))
    return result


def _client(kind: str, server: Server) -> HttpClient:
    return (AiohttpClient if kind == "aiohttp" else LeanClient)("127.0.0.1", server.port)


async def _cmd(redis: Redis, *args: Any) -> Any:
    return await redis.execute_command(*args)  # type: ignore[no-untyped-call]


async def _bench(args: argparse.Namespace, server: Server, result: RunResult) -> None:
    meter = CpuMeter({"server": server.server_pids(), "redis": [server.redis_pid]})
    n, warmup = args.requests, max(50, args.requests // 20)
    body = json.dumps(
        {"messages": messages(), "namespace": NS, "user_id": USER, "ttl_seconds": TTL}
    ).encode()
    http = _client(args.client, server)
    redis = Redis.from_url(server.redis_url, protocol=3, decode_responses=True, max_connections=64)
    try:

        def sid(conc: int, i: int, prefix: str = "") -> str:
            return f"{prefix}c{conc}-{i}" if i >= 0 else f"{prefix}c{conc}-w{-i}"

        # -- remem: PUT, then GET of the sessions just written ------------------------------------
        template: dict[str, Any] = {}
        for conc in args.concurrency:
            puts = [
                http.prepare("PUT", f"/v1/working-memory/{sid(conc, i)}", body)
                for i in range(-warmup, n)
            ]
            gets = [
                http.prepare(
                    "GET", f"/v1/working-memory/{sid(conc, i % n)}?namespace={NS}&user_id={USER}"
                )
                for i in range(-warmup, n)
            ]

            async def put(i: int, reqs: list[Any] = puts) -> bool:
                return (await http.send(reqs[i + warmup]))[0] == 200

            async def get(i: int, reqs: list[Any] = gets) -> bool:
                return (await http.send(reqs[i + warmup]))[0] == 200

            cell = await run_cell("remem PUT", put, n, conc, warmup=warmup, meter=meter)
            result.cells[("remem", "PUT", conc)] = _show(cell)
            cell = await run_cell("remem GET", get, n, conc, warmup=warmup, meter=meter)
            result.cells[("remem", "GET", conc)] = _show(cell)
            if server.workers > 1 and conc > 1:
                # uvicorn's workers share one listening socket: whichever wakes first accepts,
                # so keep-alive connections can pile up on one worker. Show the split.
                split = connections_per_process(server.worker_pids(), server.port)
                result.conn_split[conc] = sorted(split.values(), reverse=True)
                print(f"  client connections per worker: {result.conn_split[conc]}")
            if not template:
                template = await _check_session(http, redis, sid(conc, 0))

        # -- raw redis-py: the same document, JSON.SET + EXPIRE and JSON.GET ---------------------
        for conc in args.concurrency:

            async def raw_put(i: int, conc: int = conc) -> bool:
                session = sid(conc, i, "raw-")
                now = time.time()
                doc = dict(template, session_id=session, created_at=now, updated_at=now)
                doc["last_accessed"] = now
                key = KEYS.working_memory(session, USER, NS)
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.execute_command("JSON.SET", key, "$", json.dumps(doc))
                    pipe.expire(key, TTL)
                    ok, _ = await pipe.execute()
                return bool(ok)

            async def raw_get(i: int, conc: int = conc) -> bool:
                key = KEYS.working_memory(sid(conc, i % n, "raw-"), USER, NS)
                raw = await _cmd(redis, "JSON.GET", key)
                return raw is not None and bool(json.loads(raw))

            cell = await run_cell(
                "raw JSON.SET+EXPIRE", raw_put, n, conc, warmup=warmup, meter=meter
            )
            result.cells[("raw", "PUT", conc)] = _show(cell)
            cell = await run_cell("raw JSON.GET", raw_get, n, conc, warmup=warmup, meter=meter)
            result.cells[("raw", "GET", conc)] = _show(cell)

        # -- listing ------------------------------------------------------------------------------
        ranked = await _load_sessions(args, redis, template, result)
        await _listing(args, http, redis, ranked, result, meter)

        info = await redis.info("memory")
        result.memory = str(info["used_memory_human"])
        result.dbsize = int(await redis.dbsize())
        print(f"  Redis used_memory_human {result.memory} ({result.dbsize} keys)")

        if args.profile:
            await _profile(args, server, http, puts, gets, result)
    finally:
        await http.close()
        await redis.aclose()


def _show(cell: CellResult) -> CellResult:
    print("  " + cell.line())
    if cell.errors:
        print(f"  ! {cell.errors} failed requests in {cell.name}")
    return cell


async def _check_session(http: HttpClient, redis: Redis, session: str) -> dict[str, Any]:
    """The document remem stored for ``session`` (the raw template), after sanity checks."""
    target = f"/v1/working-memory/{session}?namespace={NS}&user_id={USER}"
    status, raw = await http.send(http.prepare("GET", target))
    body = json.loads(raw) if status == 200 else {}
    key = KEYS.working_memory(session, USER, NS)
    stored = await _cmd(redis, "JSON.GET", key)
    ttl = await redis.ttl(key)
    doc: dict[str, Any] = json.loads(stored)
    ok = (
        body.get("session_id") == session
        and len(body.get("messages", [])) == 4
        and _same_messages(doc, body)
        and 0 < ttl <= TTL
    )
    print(f"  stored document check ({len(stored)} bytes, ttl {ttl}s): {'OK' if ok else 'FAIL'}")
    return doc


def _same_messages(doc: dict[str, Any], body: dict[str, Any]) -> bool:
    return [m["content"] for m in doc["messages"]] == [m["content"] for m in body["messages"]]


async def _load_sessions(
    args: argparse.Namespace, redis: Redis, template: dict[str, Any], result: RunResult
) -> list[str]:
    """Write the listing data set; return the bench2 session ids, newest first."""
    rng = random.Random(42)
    now = time.time()
    spread = 7 * 86_400.0  # a week of sessions, uniformly at random
    main = [(f"s{i:06d}", now - 5 - rng.random() * spread) for i in range(args.sessions)]
    # Other namespace: a tenth as many, including the newest sessions of all, so a page that
    # ignored the namespace filter would be caught.
    other = [(f"o{i:06d}", now - 1 - rng.random() * spread) for i in range(args.sessions // 10)]
    assert len({t for _, t in main}) == len(main), "created_at values must be distinct"
    t0 = time.perf_counter()
    batch = 2_000
    rows = [(LIST_NS, s, t) for s, t in main] + [(OTHER_NS, s, t) for s, t in other]
    for start in range(0, len(rows), batch):
        async with redis.pipeline(transaction=False) as pipe:
            for i, (namespace, session, created) in enumerate(rows[start : start + batch]):
                user = f"user-{(start + i) % 50}"  # 50 users per namespace
                doc = dict(template, session_id=session, namespace=namespace, user_id=user)
                doc.update(created_at=created, updated_at=created, last_accessed=created)
                doc["ttl_seconds"] = doc["expires_at"] = None  # a PUT without ttl: persistent
                pipe.execute_command(
                    "JSON.SET", KEYS.working_memory(session, user, namespace), "$", json.dumps(doc)
                )
            await pipe.execute()
    seconds = time.perf_counter() - t0
    result.load_rate = len(rows) / seconds
    print(
        f"  loaded {len(main)} sessions into {LIST_NS!r} and {len(other)} into {OTHER_NS!r} "
        f"in {seconds:.1f}s ({result.load_rate:.0f}/s, pipelined JSON.SET)"
    )
    return [s for s, _ in sorted(main, key=lambda st: st[1], reverse=True)]


async def _listing(
    args: argparse.Namespace,
    http: HttpClient,
    redis: Redis,
    ranked: list[str],
    result: RunResult,
    meter: CpuMeter,
) -> None:
    offset = args.sessions // 2
    query = f"@namespace:{{{LIST_NS}}}"
    for name, off in (("first page", 0), (f"offset {offset:,}", offset)):
        target = f"/v1/working-memory/?namespace={LIST_NS}&limit=20"
        request = http.prepare("GET", target + (f"&offset={off}" if off else ""))
        naive = ("FT.SEARCH", INDEX, query, "SORTBY", "created_at", "DESC", "LIMIT", off, 20)
        naive += ("DIALECT", 2)
        expected = ranked[off : off + 20]

        async def api(i: int, request: Any = request) -> bool:
            return (await http.send(request))[0] == 200

        async def raw(i: int, naive: tuple[Any, ...] = naive) -> bool:
            return len((await _cmd(redis, *naive))["results"]) == 20

        status, page_raw = await http.send(request)
        page = json.loads(page_raw) if status == 200 else {}
        raw_ids = [
            KEYS.parse_working_memory(r["id"])[2] for r in (await _cmd(redis, *naive))["results"]
        ]
        checks = {
            "remem page": page.get("sessions") == expected,
            "remem total": page.get("total") == len(ranked),
            "raw page": raw_ids == expected,
        }
        count, warm = args.list_requests, 5
        remem_cell = await run_cell(f"remem list {name}", api, count, 1, warmup=warm, meter=meter)
        raw_cell = await run_cell(f"raw FT.SEARCH {name}", raw, count, 1, warmup=warm, meter=meter)
        _show(remem_cell)
        _show(raw_cell)
        verdict = " ".join(f"{k}={'OK' if v else 'FAIL'}" for k, v in checks.items())
        print(f"  correctness {name}: {verdict}")
        if not checks["remem page"]:
            print(f"    expected {expected[:4]}... got {page.get('sessions', [])[:4]}...")
        result.lists.append(ListResult(name, remem_cell, raw_cell, checks))


async def _profile(
    args: argparse.Namespace,
    server: Server,
    http: HttpClient,
    puts: list[Any],
    gets: list[Any],
    result: RunResult,
) -> None:
    """Extra c=16 PUT and GET cells with py-spy sampling every worker (not measured)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out_dir = Path(args.profile)
    out_dir.mkdir(parents=True, exist_ok=True)

    async def put(i: int) -> bool:
        return (await http.send(puts[i % len(puts)]))[0] == 200

    async def get(i: int) -> bool:
        return (await http.send(gets[i % len(gets)]))[0] == 200

    for name, op in (("put", put), ("get", get)):
        spies = []
        for pid in server.worker_pids():
            path = out_dir / f"{name}-w{server.workers}-{pid}.txt"
            cmd = [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw"]
            cmd += ["--nonblocking", "--output", str(path)]
            spy = subprocess.Popen(  # noqa: ASYNC220 - starts a sampler, returns at once
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            spies.append((spy, path))
        await asyncio.sleep(1.0)
        cell = await run_cell(f"profiled {name.upper()}", op, 3 * args.requests, 16)
        print("  " + cell.line() + "  (py-spy attached)")
        for spy, _ in spies:
            spy.send_signal(signal.SIGINT)
        for spy, path in spies:
            try:
                _, err = spy.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            if path.exists():
                summary = summarize_collapsed(path)
                result.profiles.append(summary)
                print("  " + summary.replace("\n", "\n  "))
            else:
                print(f"  ! py-spy wrote nothing: {err.decode(errors='replace')[-300:]}")


# -- report ----------------------------------------------------------------------------------------
def report(args: argparse.Namespace, runs: list[RunResult]) -> None:
    cmd = "python bench/working_memory.py " + " ".join(sys.argv[1:])
    print("\n## Working memory: remem REST vs raw redis-py\n")
    print(
        f"`{cmd.strip()}` — {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.requests:,} requests per cell; load: one uvloop process, {args.client} HTTP "
        "client, redis.asyncio (RESP3, hiredis) for raw.\n"
    )
    print(
        "| workers | op | conc | remem ops/s | p50 ms | p95 ms | raw ops/s | p50 ms | p95 ms "
        "| remem/raw | remem CPU µs/op srv/redis/load | other procs, cores |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for run_ in runs:
        for op in ("PUT", "GET"):
            for conc in args.concurrency:
                r = run_.cells[("remem", op, conc)]
                w = run_.cells[("raw", op, conc)]
                cpu = r.cpu_us_per_op
                print(
                    f"| {run_.workers} | {op} | {conc} | {r.ops:,.0f} | {r.p50_ms:.2f} "
                    f"| {r.p95_ms:.2f} | {w.ops:,.0f} | {w.p50_ms:.2f} | {w.p95_ms:.2f} "
                    f"| {r.ops / w.ops:.2f} "
                    f"| {cpu['server']:.0f}/{cpu['redis']:.0f}/{cpu['load']:.0f} "
                    f"| {cpu['other'] * r.ops / 1e6:.2f} |"
                )
    print(
        f"\n| workers | list ({args.sessions:,} sessions) | remem p50 ms | p95 ms "
        "| naive FT.SEARCH p50 ms | p95 ms | correct |"
    )
    print("|---|---|--:|--:|--:|--:|---|")
    for run_ in runs:
        for lst in run_.lists:
            ok = (
                "OK"
                if all(lst.checks.values())
                else "FAIL " + ",".join(k for k, v in lst.checks.items() if not v)
            )
            print(
                f"| {run_.workers} | {lst.name} | {lst.remem.p50_ms:.2f} | {lst.remem.p95_ms:.2f} "
                f"| {lst.raw.p50_ms:.2f} | {lst.raw.p95_ms:.2f} | {ok} |"
            )
    for run_ in runs:
        for conc, split in run_.conn_split.items():
            print(f"\nworkers={run_.workers}, c={conc}: client connections per worker {split}")
    for run_ in runs:
        print(
            f"\nworkers={run_.workers}: Redis used_memory_human {run_.memory} after loading "
            f"({run_.dbsize:,} keys; load {run_.load_rate:,.0f} sessions/s)"
        )
    print("\nTargets:")
    for run_ in runs:
        marks = []
        for (op, conc, metric), (bound, cmp) in TARGETS.items():
            cell = run_.cells.get(("remem", op, conc))
            if cell is None:
                continue
            value = cell.ops if metric == "ops" else cell.p95_ms
            ok = value >= bound if cmp == ">=" else value <= bound
            verdict = "ok" if ok else "MISS"
            marks.append(f"{op} c={conc} {metric} {value:,.2f} {cmp} {bound} {verdict}")
        first = next((x for x in run_.lists if x.name == "first page"), None)
        deep = next((x for x in run_.lists if x.name != "first page"), None)
        if first and deep:
            ok = first.remem.p95_ms <= 5
            marks.append(f"list first p95 {first.remem.p95_ms:.2f} <= 5 {'ok' if ok else 'MISS'}")
            ratio = deep.remem.p95_ms / first.remem.p95_ms
            marks.append(f"offset/first p95 {ratio:.2f} <= 2 {'ok' if ratio <= 2 else 'MISS'}")
        print(f"  workers={run_.workers}: " + "; ".join(marks))
    busy = [
        c.cpu_us_per_op["other"] * c.ops / 1e6
        for r in runs
        for c in r.cells.values()
        if "other" in c.cpu_us_per_op
    ]
    if busy and max(busy) > 0.2:
        print(
            f"\nNote: other processes kept {min(busy):.2f}-{max(busy):.2f} cores busy during the "
            "cells: the figures understate what an idle machine gives."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and sessions")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server workers")
    parser.add_argument("--requests", type=int, help="requests per cell (3000; quick 500)")
    parser.add_argument("--sessions", type=int, help="sessions to list (100000; quick 20000)")
    parser.add_argument("--list-requests", type=int, help="requests per list cell (200; quick 50)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--profile", metavar="DIR", help="py-spy the workers in extra cells")
    parser.add_argument(
        "--client",
        choices=["lean", "aiohttp"],
        default="lean",
        help="HTTP load client: lean (httptools, default) or aiohttp (needs `pip install aiohttp`)",
    )
    args = parser.parse_args()
    args.requests = args.requests or (500 if args.quick else 3_000)
    args.sessions = args.sessions or (20_000 if args.quick else 100_000)
    args.list_requests = args.list_requests or (50 if args.quick else 200)

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    runs = []
    for workers in args.workers:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runs.append(runner.run(run(args, workers)))
    report(args, runs)
    if any(not all(x.checks.values()) for r in runs for x in r.lists):
        sys.exit(1)


if __name__ == "__main__":
    main()
