"""Serve an app over real HTTP with uvicorn, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

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
