"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def assert_4xx_with_reason(r: httpx.Response, status: int | None = None) -> None:
    """A refusal the caller can act on: a 4xx (``status`` if given) whose body says why."""
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if status is not None:
        assert r.status_code == status, r.text
    assert r.json()["detail"], r.text


async def wait_until(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 5.0, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(interval)


# Values with every query-syntax character, whitespace inside, unicode, and 1 KB.
HOSTILE_IDS = [
    "a:b",
    "a@b",
    "{a}",
    "a|b",
    "a-b",
    "a*",
    '"q"',
    "back\\slash",
    "a,b",
    "it's",
    "(x)",
    "~t",
    "$v",
    "two words",
    "ünïcödé 日本語 😀",
    "x" * 1024,
    "*",
    "-",
    "a b:c{d}|e-f*g\"h\\i,j'k(l)m~n$o@p",
]
