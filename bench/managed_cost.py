"""What a request costs through the managed Agent Memory API against the same work through the
Agent Memory Server API, interleaved, on one app and one embedded Redis.

    python bench/managed_cost.py [--rounds 7] [--requests 200] [--memories 2000]

Store ``bench`` is namespace ``bench``: both APIs read and write the same session and the same
memories (``--memories`` of them, loaded first). Each round takes the kinds of request in a
random order; for each, 20 unmeasured requests of each API, then ``--requests`` measured ones
of each, the two APIs taking turns every 25 (so both meet the same noise of a shared machine),
and records, per request, this process's CPU (the app, ASGI calls without an HTTP server),
Redis's main-thread CPU and the commands Redis ran (``INFO commandstats``). Background work is
off (no worker), so Redis's figures are the request's own. The table gives medians over rounds
and the ratio managed / Agent Memory Server (the median of the rounds' own ratios, and their
range); the commands line lists each command's calls per request.

Pairs doing the same work:

- read a session of 10 messages: ``GET S/session-memory/{id}`` against
  ``GET /v1/working-memory/{id}`` with its namespace and user;
- list sessions, first page of 20: ``GET S/session-memory?includeAll=true&limit=20`` against
  ``GET /v1/working-memory/?namespace=...&limit=20``;
- create one memory (the same id again: an update): ``POST S/long-term-memory`` against
  ``POST /v1/long-term-memory/``;
- read one memory by id; search (10 results, each API's default mode).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from _asgi import Call, caller

from remem.api.app import create_app
from remem.config import Settings
from remem.store.embedded import EmbeddedRedis

STORE = "bench"
S = f"/v1/stores/{STORE}"
USER = "alice"
APIS = ("managed", "ams")
BLOCK = 25  # requests in a row of one API, between turns of the other


def redis_cpu(r: redis.Redis) -> float:
    """Seconds of CPU Redis's main thread has used (commands run there)."""
    info = r.info("cpu")
    return float(info["used_cpu_user_main_thread"]) + float(info["used_cpu_sys_main_thread"])


def commands(r: redis.Redis) -> Counter[str]:
    stats = r.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()})


def pairs(app: Any, memory_id: str) -> dict[str, dict[str, Call]]:
    """Each kind of request: its managed call and its Agent Memory Server call."""
    ams_q = f"namespace={STORE}&user_id={USER}".encode()
    search = {"text": "topic 3 colour", "limit": 10}
    # Texts of their own: with the same text the second API's write would be a duplicate of
    # the first's memory (deduplication writes nothing), not the same work.
    one = [{"id": "one-managed", "text": "a memory the managed API writes again", "ownerId": USER}]
    one_ams = [{"id": "one-ams", "text": "a memory the other API writes again", "user_id": USER}]
    one_ams[0]["namespace"] = STORE
    body = json.dumps
    return {
        "read a session (10 messages)": {
            "managed": caller(app, "GET", f"{S}/session-memory/s1"),
            "ams": caller(app, "GET", "/v1/working-memory/s1", ams_q),
        },
        "list sessions (first 20)": {
            "managed": caller(app, "GET", f"{S}/session-memory", b"includeAll=true&limit=20"),
            "ams": caller(
                app, "GET", "/v1/working-memory/", f"namespace={STORE}&limit=20".encode()
            ),
        },
        "create one memory": {
            "managed": caller(
                app,
                "POST",
                f"{S}/long-term-memory",
                body=body({"memories": one}).encode(),
                expect=201,
            ),
            "ams": caller(
                app, "POST", "/v1/long-term-memory/", body=body({"memories": one_ams}).encode()
            ),
        },
        "read a memory": {
            "managed": caller(app, "GET", f"{S}/long-term-memory/{memory_id}"),
            "ams": caller(
                app, "GET", f"/v1/long-term-memory/{memory_id}", f"namespace={STORE}".encode()
            ),
        },
        "search (10 results)": {
            "managed": caller(
                app, "POST", f"{S}/long-term-memory/search", body=body(search).encode()
            ),
            "ams": caller(
                app,
                "POST",
                "/v1/long-term-memory/search",
                body=body({**search, "namespace": {"eq": STORE}}).encode(),
            ),
        },
    }


async def load(app: Any, memories: int) -> str:
    """The session and the memories both APIs read; the id of one memory."""
    messages = [{"role": "user", "content": f"message {i} of the bench"} for i in range(10)]
    session = {"messages": messages, "namespace": STORE, "user_id": USER}
    for i in range(60):  # sessions to list
        await caller(app, "PUT", f"/v1/working-memory/s{i}", body=json.dumps(session).encode())()
    for start in range(0, memories, 100):
        batch = [
            {"text": f"memory {i} about topic {i % 17} and colour {i % 5}", "namespace": STORE}
            for i in range(start, min(memories, start + 100))
        ]
        body = json.dumps({"memories": batch, "deduplicate": False}).encode()
        await caller(app, "POST", "/v1/long-term-memory/", body=body)()
    search = json.dumps({"text": "topic 3", "limit": 1, "namespace": {"eq": STORE}}).encode()
    found = json.loads(await caller(app, "POST", "/v1/long-term-memory/search", body=search)())
    return str(found["memories"][0]["id"])


async def run(app: Any, r: redis.Redis, args: argparse.Namespace) -> None:
    kinds = pairs(app, await load(app, args.memories))
    names = [(kind, api) for kind in kinds for api in APIS]
    app_us: dict[tuple[str, str], list[float]] = {k: [] for k in names}
    redis_us: dict[tuple[str, str], list[float]] = {k: [] for k in names}
    sent: dict[tuple[str, str], Counter[str]] = {k: Counter() for k in names}
    blocks = max(1, args.requests // BLOCK)
    for _ in range(args.rounds):
        for kind in random.sample(list(kinds), len(kinds)):
            for api in APIS:
                for _ in range(20):
                    await kinds[kind][api]()
            app_s = dict.fromkeys(APIS, 0.0)
            redis_s = dict.fromkeys(APIS, 0.0)
            for _ in range(blocks):  # the two APIs in turns: both meet the same noise
                for api in random.sample(APIS, len(APIS)):
                    call = kinds[kind][api]
                    before_cmds, before_redis = commands(r), redis_cpu(r)
                    started = time.process_time()
                    for _ in range(BLOCK):
                        await call()
                    app_s[api] += time.process_time() - started
                    redis_s[api] += redis_cpu(r) - before_redis
                    ran = commands(r)
                    ran.subtract(before_cmds)
                    ran.pop("info", None)
                    sent[(kind, api)] += ran
            for api in APIS:
                app_us[(kind, api)].append(app_s[api] / (blocks * BLOCK) * 1e6)
                redis_us[(kind, api)].append(redis_s[api] / (blocks * BLOCK) * 1e6)
    print(
        f"{args.rounds} rounds of {blocks * BLOCK} requests of each kind and API, taking turns "
        f"every {BLOCK}; {args.memories} memories"
    )
    print("medians over rounds, µs per request; each ratio is the median of the rounds' own")
    print("ratios (managed / AMS API in the same round), [lowest-highest] round\n")
    print("| request | app managed | app AMS API | ratio | Redis managed | Redis AMS API | ratio |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for kind in kinds:
        am, aa = (statistics.median(app_us[(kind, a)]) for a in APIS)
        rm, ra = (statistics.median(redis_us[(kind, a)]) for a in APIS)
        print(
            f"| {kind} | {am:.0f} | {aa:.0f} | {_ratios(app_us, kind)} "
            f"| {rm:.0f} | {ra:.0f} | {_ratios(redis_us, kind)} |"
        )
    total = args.rounds * blocks * BLOCK
    print("\ncommands per request (managed | AMS API):")
    for kind in kinds:
        shown = [
            " ".join(f"{c} {n / total:.2f}" for c, n in sorted(sent[(kind, a)].items()) if n > 0)
            for a in APIS
        ]
        print(f"- {kind}: {shown[0]} | {shown[1]}")


def _ratios(figures: dict[tuple[str, str], list[float]], kind: str) -> str:
    """Managed / AMS API, round by round: their median [lowest-highest]."""
    each = [m / a for m, a in zip(*(figures[(kind, api)] for api in APIS), strict=True) if a]
    return f"{statistics.median(each):.2f} [{min(each):.2f}-{max(each):.2f}]"


async def main(args: argparse.Namespace) -> None:
    server = EmbeddedRedis(Path(tempfile.mkdtemp()))
    url = server.acquire()
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}:"
        settings = Settings(
            redis_url=url,
            key_prefix=prefix,
            working_memory_index=f"{prefix}wm",
            long_term_memory_index=f"{prefix}ltm",
            run_worker=False,
        )
        app = create_app(settings)
        r = redis.Redis.from_url(url)
        try:
            async with app.router.lifespan_context(app):
                await run(app, r, args)
        finally:
            r.close()
    finally:
        server.release()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--memories", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
