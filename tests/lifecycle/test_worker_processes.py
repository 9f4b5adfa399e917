"""Workers as users run them: `remem serve --no-worker` and `remem worker` as separate
processes on one Redis; a worker killed with SIGKILL in the middle of a task."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from remem.config import Settings
from tests.embeddings.test_openai import fake_vector
from tests.helpers import wait_until
from tests.serving import free_port, served

DIMENSIONS = 12


class GatedEmbeddings:
    """An OpenAI-compatible /v1/embeddings that holds every request while its gate is shut,
    recording the texts it was asked for."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.texts: list[str] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            body = await request.json()
            self.texts.extend(body["input"])
            await self.gate.wait()
            data = [
                {"object": "embedding", "index": i, "embedding": fake_vector(t, DIMENSIONS)}
                for i, t in enumerate(body["input"])
            ]
            return JSONResponse({"object": "list", "data": data, "model": "m", "usage": {}})

        return app


@pytest.fixture
async def embeddings() -> AsyncIterator[tuple[GatedEmbeddings, str]]:
    fake = GatedEmbeddings()
    async with served(fake.app()) as url:
        yield fake, url
        fake.gate.set()


def _command() -> list[str]:
    remem = shutil.which("remem") or ""
    return [remem] if remem else [sys.executable, "-c", "from remem.cli import main; main()"]


def _env(settings: Settings, embeddings_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
        "REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        "REMEM_DATA_DIR": str(tmp / "unused-data-dir"),
        "REMEM_EMBEDDING_PROVIDER": "openai",
        "REMEM_EMBEDDING_BASE_URL": f"{embeddings_url}/v1",
        "REMEM_EMBEDDING_API_KEY": "test",
        "REMEM_EMBEDDING_DIMENSIONS": str(DIMENSIONS),
        "REMEM_EXTRACTION_DEBOUNCE_SECONDS": "0.2",
        "REMEM_TASK_REDELIVERY_SECONDS": "1",
        "REMEM_TASK_POLL_SECONDS": "0.1",
        **extra,
    }


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([*_command(), *args], env=env, stdout=out, stderr=out)


async def _healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(_read(log))
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(f"{base}/v1/health")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_until(up, timeout=60, interval=0.1)


def _read(log: Path) -> str:  # a process's log, for the failure message
    return log.read_text()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_worker_killed_mid_task_is_redelivered_and_done_once(
    settings: Settings, embeddings: tuple[GatedEmbeddings, str], tmp_path: Path
) -> None:
    """The API runs no tasks (--no-worker); the first worker takes the extraction and is
    killed (SIGKILL) while it waits on the embedder; a second worker gets the task after the
    redelivery timeout and finishes it: every message is extracted into exactly one memory."""
    fake, embeddings_url = embeddings
    port = free_port()
    env = _env(settings, embeddings_url, tmp_path, REMEM_PORT=str(port))
    api_log, first_log, second_log = (tmp_path / n for n in ("api.log", "w1.log", "w2.log"))
    api = _start(["serve", "--no-worker"], env, api_log)
    procs = [api]
    base = f"http://127.0.0.1:{port}"
    try:
        await _healthy(base, api, api_log)
        contents = [f"fact number {i} about the lighthouse" for i in range(5)]
        body: dict[str, Any] = {
            "namespace": "ns",
            "user_id": "u",
            "messages": [
                {"role": "user", "content": c, "id": f"m{i}"} for i, c in enumerate(contents)
            ],
        }
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
            first = _start(["worker"], env, first_log)
            procs.append(first)

            async def asked() -> bool:
                if first.poll() is not None:
                    raise AssertionError(_read(first_log))
                return any("lighthouse" in t for t in fake.texts)

            await wait_until(asked, timeout=60, interval=0.05)  # the task is running
            killed_at = time.monotonic()
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            asked_before = len(fake.texts)
            fake.gate.set()
            second = _start(["worker"], env, second_log)
            procs.append(second)

            async def extracted() -> bool:
                r = await http.get(
                    "/v1/working-memory/s", params={"namespace": "ns", "user_id": "u"}
                )
                marks = [m["discrete_memory_extracted"] for m in r.json()["messages"]]
                return marks == ["t"] * 5

            await wait_until(extracted, timeout=60, interval=0.1)
            assert time.monotonic() - killed_at >= 1.0  # taken again only after the timeout
            assert len(fake.texts) > asked_before  # the second worker did the work again

            search = {"text": "lighthouse", "limit": 50, "namespace": {"eq": "ns"}}
            found = (await http.post("/v1/long-term-memory/search", json=search)).json()
        texts = sorted(m["text"] for m in found["memories"])
        assert texts == sorted(f"user: {c}" for c in contents)
        client = redis.Redis.from_url(settings.redis_url or "")
        try:
            stored = list(client.scan_iter(match=f"{settings.key_prefix}mem:*", count=1000))
        finally:
            client.close()
        assert len(stored) == 5  # no copy from the killed worker's attempt
    finally:
        for proc in procs:
            _stop(proc)
