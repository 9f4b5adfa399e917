"""LeanRoute against FastAPI's APIRoute: µs per request through the ASGI app, interleaved.

    python bench/lean_route.py [--rounds 12] [--requests 150]

Two apps on one embedded Redis: remem's own, and a twin whose LeanRoutes are declared again as
plain APIRoutes (the same endpoints, paths and order). Each round runs every request kind on both
apps in a random order (20 unmeasured requests, then ``--requests`` measured ones) and records
wall time and this process's CPU time per request; Redis's own time is in the wall figure only.
The table gives the median over rounds (and the best round). Requests are ASGI calls, without an
HTTP server, so the share is of the app's part of a request: over HTTP the server adds its own.
Create is an APIRoute in both apps: its gain is the noise of the machine.
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
from pathlib import Path
from typing import Any

from _asgi import caller
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from remem.api.app import create_app
from remem.api.routers import longterm, working
from remem.config import Settings
from remem.store.embedded import EmbeddedRedis


def twin_app(settings: Settings) -> FastAPI:
    """remem's app with every LeanRoute replaced by an APIRoute of the same endpoint."""
    app = create_app(settings)
    ours = (working.router, longterm.router)
    app.router.routes[:] = [r for r in app.router.routes if not _from(r, ours)]
    for router in ours:
        app.include_router(_plain(router))
    left = [r for r in app.router.routes if _from(r, ours) and isinstance(r, APIRoute)]
    assert not any(type(r) is not APIRoute for r in left), "a LeanRoute is left"
    return app


def _from(route: Any, routers: tuple[APIRouter, ...]) -> bool:
    """Whether ``route`` of the app comes from one of ``routers`` (FastAPI >= 0.16x keeps the
    included router; older versions copy its routes)."""
    if any(getattr(route, "original_router", None) is router for router in routers):
        return True
    return str(getattr(route, "path", "")).startswith(("/v1/working-memory", "/v1/long-term"))


def _plain(router: APIRouter) -> APIRouter:
    plain = APIRouter(tags=list(router.tags))
    for route in router.routes:
        assert isinstance(route, APIRoute)
        plain.add_api_route(
            route.path,
            route.endpoint,
            methods=list(route.methods),
            response_model=route.response_model,
            include_in_schema=route.include_in_schema,
            route_class_override=APIRoute,
        )
    return plain


async def main(rounds: int, requests: int) -> None:
    server = EmbeddedRedis(Path(tempfile.mkdtemp()))
    url = server.acquire()
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}:"
        settings = Settings(
            redis_url=url,
            key_prefix=prefix,
            working_memory_index=f"{prefix}wm",
            long_term_memory_index=f"{prefix}ltm",
        )
        apps = {"LeanRoute": create_app(settings), "APIRoute": twin_app(settings)}
        lean, plain = apps["LeanRoute"], apps["APIRoute"]
        async with lean.router.lifespan_context(lean), plain.router.lifespan_context(plain):
            await run(apps, rounds, requests)
    finally:
        server.release()


async def run(apps: dict[str, FastAPI], rounds: int, requests: int) -> None:
    lean = apps["LeanRoute"]
    messages = [{"role": "user", "content": "x" * 100} for _ in range(4)]
    session = json.dumps({"messages": messages, "namespace": "bench"}).encode()
    await caller(lean, "PUT", "/v1/working-memory/s1", b"namespace=bench", session)()
    memories = [{"text": f"memory {i} about topic {i % 17} and colour {i % 5}"} for i in range(300)]
    body = json.dumps({"memories": memories}).encode()
    await caller(lean, "POST", "/v1/long-term-memory/", body=body)()
    search = json.dumps({"text": "topic 3 colour", "limit": 10}).encode()
    found = json.loads(await caller(lean, "POST", "/v1/long-term-memory/search", body=search)())
    memory = f"/v1/long-term-memory/{found['memories'][0]['id']}"
    one = json.dumps({"memories": [{"id": "fixed", "text": "a memory about the bench"}]}).encode()
    kinds: dict[str, tuple[Any, ...]] = {
        "GET working memory": ("GET", "/v1/working-memory/s1", b"namespace=bench"),
        "PUT working memory": ("PUT", "/v1/working-memory/s2", b"", session),
        "GET session list": ("GET", "/v1/working-memory/", b"namespace=bench"),
        "GET long-term memory": ("GET", memory),
        "PATCH long-term memory": ("PATCH", memory, b"", b'{"topics": ["a", "b"]}'),
        "POST search": ("POST", "/v1/long-term-memory/search", b"", search),
        "POST create (1 memory)": ("POST", "/v1/long-term-memory/", b"", one),
    }
    calls = {(k, a): caller(app, *spec) for k, spec in kinds.items() for a, app in apps.items()}
    assert (
        await calls[("GET working memory", "LeanRoute")]()
        == await calls[("GET working memory", "APIRoute")]()
    )
    wall: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for kind in kinds:
            for name in random.sample(list(apps), len(apps)):
                call = calls[(kind, name)]
                for _ in range(20):
                    await call()
                started, cpu_started = time.perf_counter(), time.process_time()
                for _ in range(requests):
                    await call()
                wall[(kind, name)].append((time.perf_counter() - started) / requests * 1e6)
                cpu[(kind, name)].append((time.process_time() - cpu_started) / requests * 1e6)
    print(f"{rounds} interleaved rounds of {requests} requests; median (best round)\n")
    print("| request | LeanRoute µs | APIRoute µs | gain | CPU LeanRoute / APIRoute µs | gain |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        lw, aw = (statistics.median(wall[(kind, a)]) for a in apps)
        lb, ab = (min(wall[(kind, a)]) for a in apps)
        lc, ac = (statistics.median(cpu[(kind, a)]) for a in apps)
        print(
            f"| {kind} | {lw:.0f} ({lb:.0f}) | {aw:.0f} ({ab:.0f}) | {(aw - lw) / aw:.0%} "
            f"| {lc:.0f} / {ac:.0f} | {(ac - lc) / ac:.0%} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
