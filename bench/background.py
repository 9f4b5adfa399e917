"""What background work costs the foreground, and what extraction costs Redis per message.

    python bench/background.py [--seconds 20] [--rounds 3] [--concurrency 16] [--rate 50]
        [--setting REMEM_NAME=VALUE ...]

Each round starts a fresh ``remem serve`` (its embedded Redis, its in-process worker, default
settings, no LLM) twice, in turn: with ``REMEM_EXTRACT_MESSAGES=false`` (messages stay in
working memory) and with extraction on (the default: every message becomes a memory, 3 s after
its session's last write). For ``--seconds``, ``--concurrency`` clients each PUT a new session
of 10 messages (distinct words, so no two memories merge) and GET it back, again and again, at
``--rate`` sessions a second in all, so extraction runs beside the requests for most of the run
(``--rate 0``: unpaced, as fast as the server answers; extraction then cannot keep up, and the
share of messages searchable when the load stops is reported instead of the time until all are).
Reported, medians over rounds:

- p50 and p95 of the PUT and the GET, with extraction on against off (the ratio);
- per message written, once every message is searchable: the CPU of Redis (all threads) over
  the run and until extraction has finished, the keys and the bytes (``used_memory``) Redis
  holds, with extraction on and off (the difference is what extraction costs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import LeanClient, percentile, threads_cpu_usec
from _server import Server

WORDS = [f"w{i}" for i in range(5000)]


def body(session: int) -> bytes:
    rng = random.Random(session)
    messages = [
        {"role": "user" if k % 2 == 0 else "assistant",
         "content": " ".join(rng.choice(WORDS) for _ in range(12))}
        for k in range(10)
    ]  # fmt: skip
    return json.dumps({"messages": messages, "namespace": "bench"}).encode()


async def run_once(extract: bool, args: argparse.Namespace) -> dict[str, float]:
    settings = dict(s.split("=", 1) for s in args.setting)
    server = Server(1, settings | {"REMEM_EXTRACT_MESSAGES": "true" if extract else "false"})
    server.start()
    try:
        r = redis.Redis.from_url(server.redis_url)
        keys0, bytes0 = r.dbsize(), r.info("memory")["used_memory"]
        cpu0 = threads_cpu_usec(server.redis_pid)
        client = LeanClient("127.0.0.1", server.port)
        latencies: dict[str, list[float]] = {"PUT": [], "GET": []}
        written = 0
        deadline = time.monotonic() + args.seconds

        async def user(u: int) -> None:
            nonlocal written
            n = 0
            while time.monotonic() < deadline:
                sid = f"u{u}-{n}"
                n += 1
                target = f"/v1/working-memory/{sid}?namespace=bench"
                for method, payload in (("PUT", body(u * 1_000_000 + n)), ("GET", b"")):
                    t = time.perf_counter()
                    status, reply = await client.send(client.prepare(method, target, payload))
                    latencies[method].append(time.perf_counter() - t)
                    if status != 200:
                        raise RuntimeError(f"{method} {target}: {status} {reply[:200]!r}")
                written += 10
                if args.rate > 0:  # paced: --rate sessions/s
                    await asyncio.sleep(args.concurrency / args.rate)
                else:  # unpaced: give the loop a turn (a GET can answer without yielding)
                    await asyncio.sleep(0)

        await asyncio.gather(*(user(u) for u in range(args.concurrency)))
        search = json.dumps({"text": "", "namespace": {"eq": "bench"}, "limit": 1}).encode()
        done_at = time.monotonic()
        searchable = 0
        while extract:  # until every message is a memory (searchable)
            _, reply = await client.send(
                client.prepare("POST", "/v1/long-term-memory/search", search)
            )
            searchable = json.loads(reply)["total"]
            if searchable >= written or args.rate <= 0:  # unpaced: the share at the end
                break
            if time.monotonic() - done_at > 600:
                raise RuntimeError("extraction did not finish in 600 s")
            await asyncio.sleep(0.2)
        lag = time.monotonic() - done_at
        cpu = threads_cpu_usec(server.redis_pid) - cpu0
        keys, used = r.dbsize() - keys0, r.info("memory")["used_memory"] - bytes0
        await client.close()
        out = {"messages": written, "after_s": lag, "redis_us": cpu / written}
        out["searchable"] = searchable / written
        out |= {"keys": keys / written, "bytes": used / written}
        for method, values in latencies.items():
            values.sort()
            out[f"{method} p50"] = 1000 * percentile(values, 50)
            out[f"{method} p95"] = 1000 * percentile(values, 95)
        return out
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50, help="sessions written a second")
    parser.add_argument(
        "--setting", action="append", default=[], metavar="REMEM_NAME=VALUE",
        help="a server setting for both runs (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    rows: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for rnd in range(args.rounds):
        for extract in random.sample([False, True], 2):
            rows[extract].append(asyncio.run(run_once(extract, args)))
        print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr)

    def med(extract: bool, key: str) -> float:
        return statistics.median(row[key] for row in rows[extract])

    print(f"\n`python bench/background.py --seconds {args.seconds:g} --rounds {args.rounds} "
          f"--concurrency {args.concurrency} --rate {args.rate:g}"
          + "".join(f" --setting {s}" for s in args.setting)
          + "`: medians over rounds\n")  # fmt: skip
    print("| | extraction off | extraction on | on/off |")
    print("|---|--:|--:|--:|")
    for key in ("PUT p50", "PUT p95", "GET p50", "GET p95"):
        off, on = med(False, key), med(True, key)
        print(f"| {key} ms | {off:.1f} | {on:.1f} | **{on / off:.2f}** |")
    print(f"| messages written | {med(False, 'messages'):,.0f} | {med(True, 'messages'):,.0f} | |")
    if args.rate > 0:
        print(f"| all searchable after the run | | {med(True, 'after_s'):.1f} s | |")
    else:  # unpaced: extraction cannot keep up with a saturated server; how far it got
        print(f"| searchable at the end of the run | | {med(True, 'searchable'):.0%} | |")
    for key, unit in (("redis_us", "Redis CPU µs"), ("keys", "keys"), ("bytes", "bytes")):
        off, on = med(False, key), med(True, key)
        print(f"| {unit} per message | {off:,.1f} | {on:,.1f} | extraction: {on - off:+,.1f} |")


if __name__ == "__main__":
    main()
