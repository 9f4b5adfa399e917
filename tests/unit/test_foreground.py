"""Background work's turns: one at a time, after the requests in flight and a quiet gap (or
``max_wait``), and neither serialised nor delayed in a process that serves nothing."""

from __future__ import annotations

import asyncio
import time

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from remem.foreground import CountRequests, Foreground


async def test_a_turn_waits_for_the_requests_in_flight() -> None:
    fg = Foreground(serving=True, max_wait=5.0)
    fg.enter()
    order: list[str] = []

    async def background() -> None:
        async with fg.turn():
            order.append("background")

    task = asyncio.create_task(background())
    await asyncio.sleep(0.05)
    order.append("request done")
    fg.leave()
    await task
    assert order == ["request done", "background"]


async def test_a_turn_waits_for_a_quiet_gap_after_the_last_request() -> None:
    fg = Foreground(serving=True, max_wait=5.0, quiet=0.1)
    fg.enter()
    fg.leave()  # a request just ended: the next may be on its way
    started = time.monotonic()
    async with fg.turn():
        waited = time.monotonic() - started
    assert 0.09 <= waited < 1.0
    started = time.monotonic()
    async with fg.turn():  # long quiet since: at once
        assert time.monotonic() - started < 0.05


async def test_a_request_during_the_gap_starts_it_again() -> None:
    fg = Foreground(serving=True, max_wait=5.0, quiet=0.1)
    fg.enter()
    fg.leave()

    async def another() -> float:
        await asyncio.sleep(0.05)
        fg.enter()
        await asyncio.sleep(0.05)
        fg.leave()
        return time.monotonic()

    later = asyncio.create_task(another())
    async with fg.turn():
        began = time.monotonic()
    assert began - await later >= 0.09  # a full gap after the second request ended


async def test_a_steady_stream_of_requests_delays_a_turn_by_max_wait_only() -> None:
    fg = Foreground(serving=True, max_wait=0.05)
    fg.enter()  # never leaves
    started = time.monotonic()
    async with fg.turn():
        waited = time.monotonic() - started
    assert 0.04 <= waited < 1.0


async def test_turns_take_turns_while_serving_and_overlap_otherwise() -> None:
    for serving, most_at_once in ((True, 1), (False, 3)):
        fg = Foreground(serving=serving)
        inside = peak = 0

        async def work(fg: Foreground = fg) -> None:
            nonlocal inside, peak
            async with fg.turn():
                inside += 1
                peak = max(peak, inside)
                await asyncio.sleep(0.01)
                inside -= 1

        await asyncio.gather(*(work() for _ in range(3)))
        assert peak == most_at_once, serving


async def test_the_middleware_counts_a_request_until_its_answer_ends() -> None:
    fg = Foreground(serving=True)
    seen: list[int] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        seen.append(fg.in_flight)
        return PlainTextResponse("ok")

    app = CountRequests(Starlette(routes=[Route("/", endpoint)]), fg)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        await asyncio.gather(*(c.get("/") for _ in range(3)))
    assert seen and all(n >= 1 for n in seen) and fg.in_flight == 0
