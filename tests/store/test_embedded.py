"""The embedded Redis launcher and `remem serve` as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from remem.config import Settings
from remem.errors import IncompatibleBackend
from remem.runtime import Resources
from remem.store.embedded import EmbeddedRedis, find_binaries
from tests.serving import free_port

# The launcher itself: the REDIS_URL pass of CI leaves these out (they start their own Redis).
pytestmark = pytest.mark.embedded_only


def test_second_user_reuses_and_last_user_stops(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path)
    url = first.acquire()
    record = json.loads((tmp_path / "redis.json").read_text())
    assert record["url"] == url
    # Another process pointed at the same data directory reuses the running server.
    probe = (
        "import sys; from remem.store.embedded import EmbeddedRedis as E; "
        "e=E(sys.argv[1]); print(e.acquire()); e.release()"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == url
    assert json.loads((tmp_path / "redis.json").read_text())["pid"] == record["pid"]
    assert redis.Redis.from_url(url).ping()  # the other process left it running for us
    first.release()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert not (tmp_path / "redis.json").exists()


def test_data_survives_a_restart_with_aof(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.acquire())
    client.json().set("k", "$", {"v": 1})
    client.expire("k", 3600)
    client.close()
    server.release()
    again = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(again.acquire())
    try:
        assert client.json().get("k") == {"v": 1}
        assert 3500 < client.ttl("k") <= 3600
    finally:
        client.close()
        again.release()


def _plain_redis(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    """A Redis with no modules at all."""
    proc = subprocess.Popen(
        [str(find_binaries().server), "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc


async def test_redis_without_modules_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    port = free_port()
    proc = _plain_redis(tmp_path, port)
    try:
        with pytest.raises(IncompatibleBackend, match="Query Engine"):
            async with Resources(Settings(redis_url=f"redis://127.0.0.1:{port}")):
                pass
    finally:
        proc.terminate()
        proc.wait()


@pytest.mark.parametrize("workers", [1, 2])
def test_remem_serve_answers_on_loopback_and_stops_its_redis(tmp_path: Path, workers: int) -> None:
    port = free_port()
    env = {**os.environ, "REMEM_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    env.pop("REMEM_REDIS_URL", None)
    proc = subprocess.Popen(
        ["remem", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["embedded_redis"] is True
        assert r.json()["redis"]["search"] and r.json()["redis"]["ReJSON"]
        put = httpx.put(
            f"http://127.0.0.1:{port}/v1/working-memory/s",
            json={"messages": [{"role": "user", "content": "persist me"}]},
        )
        assert put.status_code == 200
        for _ in range(10):  # every worker (whichever answers) sees the same data
            got = httpx.get(f"http://127.0.0.1:{port}/v1/working-memory/s")
            assert got.json()["messages"][0]["content"] == "persist me"
        url = json.loads((tmp_path / "redis.json").read_text())["url"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    assert (tmp_path / "redis" / "appendonlydir").is_dir()


def test_serve_refuses_a_redis_without_modules_before_serving(tmp_path: Path) -> None:
    port = free_port()
    proc = _plain_redis(tmp_path, port)
    try:
        out = subprocess.run(
            ["remem", "serve", "--port", str(free_port())],
            env={**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        proc.terminate()
        proc.wait()
    assert out.returncode == 1
    assert "needs Redis with the Query Engine" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_stale_record_naming_another_live_process_starts_a_server(tmp_path: Path) -> None:
    """After a crash or a reboot, the recorded pid may belong to an unrelated process: it is
    not taken for the server (nor waited for), a server is started."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        sock = tmp_path / "run" / "redis.sock"
        (tmp_path / "redis.json").write_text(
            json.dumps({"pid": other.pid, "url": f"unix://{sock}"})
        )
        server = EmbeddedRedis(tmp_path, startup_timeout=5)
        url = server.acquire()
        try:
            assert json.loads((tmp_path / "redis.json").read_text())["pid"] != other.pid
            assert redis.Redis.from_url(url).ping()
        finally:
            server.release()
    finally:
        other.kill()
        other.wait()
