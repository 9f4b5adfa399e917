"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


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
