"""What authentication costs: an API token check with 10 and with 10,000 tokens stored, and the
time added to a request through the app by token auth, beside the same request with auth off.

    python bench/auth.py [--checks 3000] [--requests 2000] [--rounds 5]

One process, its own embedded Redis in a temporary directory (unix socket), remem's code from
this checkout's ``src`` when run with ``PYTHONPATH=src``.

1. Token checks: ``TokenStore.check`` of a random stored token, ``--checks`` times, after storing
   10 and then 10,000 tokens. Per check: wall time p50/p95 (µs) and this process's CPU time
   (``time.process_time``), and the Redis commands a check sends (``INFO commandstats``
   deltas; one HGETALL whatever the number of tokens).
2. Through the app (ASGI, no HTTP server: the app's part of a request): ``GET`` of one stored
   session, once with auth disabled and once with a token, in alternating rounds so a busy
   neighbour hits both alike. Per request: wall p50/p95 and CPU; the difference is what token
   auth adds. CPU time is the robust figure on a shared machine; wall time is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.runtime import Resources


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def calls(redis: Any) -> dict[str, int]:
    info = await redis.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


async def token_checks(res: Resources, count: int, checks: int) -> dict[str, float]:
    store = TokenStore(res.redis, res.keys)
    have = len(await store.list())
    tokens: list[str] = []
    for _ in range(count - have):
        token, _ = await store.create(["bench"], role="write")
        tokens.append(token)
    sample = random.Random(7).choices(tokens, k=checks)
    for token in sample[:200]:  # warm: the hash key, the connections
        await store.check(token)
    before = await calls(res.redis)
    walls: list[float] = []
    cpu = time.process_time()
    for token in sample:
        started = time.perf_counter()
        await store.check(token)
        walls.append((time.perf_counter() - started) * 1e6)
    cpu_us = (time.process_time() - cpu) * 1e6 / checks
    after = await calls(res.redis)
    sent = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    sent.pop("info", None)
    per_check = {k: v / checks for k, v in sent.items()}
    return {"p50": pct(walls, 0.5), "p95": pct(walls, 0.95), "cpu": cpu_us, **per_check}


def asgi_get(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> Any:
    async def call() -> None:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"namespace=bench", "root_path": "",
            "headers": [(b"host", b"remem"), *headers],
            "server": ("remem", 80), "client": ("bench", 1),
        }  # fmt: skip
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}")

    return call


async def through_app(
    settings: Settings, requests: int, rounds: int
) -> dict[str, dict[str, float]]:
    apps = {
        "disabled": create_app(settings),
        "token": create_app(settings.model_copy(update={"auth_mode": "token"})),
    }
    figures: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in apps}
    async with (
        apps["disabled"].router.lifespan_context(apps["disabled"]),
        apps["token"].router.lifespan_context(apps["token"]),
    ):
        res = apps["disabled"].state.resources
        transport = httpx.ASGITransport(app=apps["disabled"])
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            body = {"messages": [{"role": "user", "content": "hello"}], "namespace": "bench"}
            stored = await http.put("/v1/working-memory/s1", json=body)
            assert stored.status_code == 200, stored.text
        token, _ = await TokenStore(res.redis, res.keys).create(["bench"], role="write")
        path = "/v1/working-memory/s1"
        calls_of = {
            "disabled": asgi_get(apps["disabled"], path, []),
            "token": asgi_get(
                apps["token"], path, [(b"authorization", f"Bearer {token}".encode())]
            ),
        }
        for call in calls_of.values():
            for _ in range(200):
                await call()
        for _ in range(rounds):
            for mode in random.sample(list(calls_of), 2):
                call, walls = calls_of[mode], []
                cpu = time.process_time()
                for _ in range(requests):
                    started = time.perf_counter()
                    await call()
                    walls.append((time.perf_counter() - started) * 1e3)
                figures[mode]["cpu"].append((time.process_time() - cpu) * 1e3 / requests)
                figures[mode]["wall"] += walls
    return {
        mode: {
            "p50": pct(f["wall"], 0.5),
            "p95": pct(f["wall"], 0.95),
            "cpu": statistics.median(f["cpu"]),
        }
        for mode, f in figures.items()
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="ra-", dir="/tmp") as data:
        settings = Settings(data_dir=Path(data), run_worker=False, llm_base_url=None)
        async with Resources(settings) as res:
            print("## Token check (TokenStore.check, one process, embedded Redis)\n")
            print("| tokens stored | p50 µs | p95 µs | CPU µs/check | Redis commands/check |")
            print("|---:|---:|---:|---:|---|")
            for count in (10, 10_000):
                got = await token_checks(res, count, args.checks)
                sent = ", ".join(
                    f"{k} {v:g}" for k, v in got.items() if k not in ("p50", "p95", "cpu")
                )
                print(
                    f"| {count:,} | {got['p50']:.0f} | {got['p95']:.0f} | {got['cpu']:.0f} "
                    f"| {sent} |"
                )
            # The apps share this embedded Redis (kept up by the Resources still open).
            print("\n## GET /v1/working-memory/{id} through the app (ASGI), auth off vs token\n")
            got_app = await through_app(settings, args.requests, args.rounds)
        print("| auth | p50 ms | p95 ms | CPU ms/request |")
        print("|---|---:|---:|---:|")
        for mode, f in got_app.items():
            print(f"| {mode} | {f['p50']:.3f} | {f['p95']:.3f} | {f['cpu']:.3f} |")
        off, on = got_app["disabled"], got_app["token"]
        print(
            f"\ntoken auth adds {on['p50'] - off['p50']:.3f} ms (p50 wall), "
            f"{on['cpu'] - off['cpu']:.3f} ms of CPU per request"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
