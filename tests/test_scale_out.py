"""Scale-out as users run it: two `remem serve` processes sharing one Redis over TCP through
REDIS_URL, a Redis that remem did not start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import free_port, private_redis


@pytest.fixture(scope="module")
def tcp_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``REMEM_TEST_REDIS_URL`` when it is a TCP Redis (CI starts one), else a Redis started
    here on a free TCP port from the same wheels as the embedded one."""
    given = os.environ.get("REMEM_TEST_REDIS_URL", "")
    if given.startswith("redis://"):
        yield given
        return
    with private_redis(tmp_path_factory.mktemp("tcp-redis")) as (url, _):
        yield url


def _serve(url: str, prefix: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    remem = shutil.which("remem") or ""
    command = [remem] if remem else [sys.executable, "-c", "from remem.cli import main; main()"]
    env = {
        **os.environ,
        "REDIS_URL": url,
        "REMEM_KEY_PREFIX": prefix,
        "REMEM_WORKING_MEMORY_INDEX": f"{prefix}wm_idx",
        "REMEM_LONG_TERM_MEMORY_INDEX": f"{prefix}lt_idx",
        "REMEM_DATA_DIR": str(tmp / "unused-data-dir"),
        "REMEM_PORT": str(port),
        "REMEM_ACCESS_FLUSH_SECONDS": "0.2",
    }
    log = open(tmp / f"serve-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([*command, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError((tmp / f"serve-{port}.log").read_text())
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("remem serve did not answer within 60 s")
        time.sleep(0.1)


def test_two_servers_share_one_redis_over_tcp(tcp_redis_url: str, tmp_path: Path) -> None:
    """What one server writes, the other reads, lists and searches at once; a delete through
    one is seen by the other."""
    prefix = f"s{uuid.uuid4().hex[:8]}:"
    first, a = _serve(tcp_redis_url, prefix, tmp_path)
    try:
        second, b = _serve(tcp_redis_url, prefix, tmp_path)
        try:
            with httpx.Client(timeout=30) as http:
                put = http.put(
                    f"{a}/v1/working-memory/chat-1",
                    json={
                        "namespace": "demo",
                        "user_id": "alice",
                        "ttl_seconds": 3600,
                        "messages": [{"role": "user", "content": "I prefer green tea"}],
                    },
                )
                assert put.status_code == 200, put.text
                got = http.get(f"{b}/v1/working-memory/chat-1", params={"namespace": "demo"}).json()
                assert got["messages"][0]["content"] == "I prefer green tea"
                listed = http.get(f"{b}/v1/working-memory/", params={"namespace": "demo"})
                assert listed.json() == {"sessions": ["chat-1"], "total": 1}

                made = http.post(
                    f"{b}/v1/long-term-memory/",
                    json={"memories": [{"id": "m1", "text": "Alice prefers green tea"}]},
                )
                assert made.status_code == 200, made.text
                for mode in ("semantic", "keyword", "hybrid"):
                    found = http.post(
                        f"{a}/v1/long-term-memory/search",
                        json={"text": "green tea", "search_mode": mode},
                    ).json()
                    assert [m["id"] for m in found["memories"]] == ["m1"], mode
                    assert found["total"] == 1

                assert http.delete(
                    f"{a}/v1/long-term-memory", params={"memory_ids": ["m1"]}
                ).json() == {"status": "ok, deleted 1 memories"}
                assert http.get(f"{b}/v1/long-term-memory/m1").status_code == 404
                gone = http.post(f"{b}/v1/long-term-memory/search", json={"text": "green tea"})
                assert gone.json()["total"] == 0
        finally:
            second.terminate()
            second.wait(20)
    finally:
        first.terminate()
        first.wait(20)
