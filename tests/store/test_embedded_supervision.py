"""The embedded Redis is supervised: killed under load, it is restarted from its AOF within
seconds, the outage answers 503 with a retry hint, and no acknowledged write is lost."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings
from remem.store.embedded import pid_alive
from tests.helpers import wait_until
from tests.serving import free_port, served

# The launcher itself: the REDIS_URL pass of CI leaves these out (they start their own Redis).
pytestmark = pytest.mark.embedded_only

WM = "/v1/working-memory"
LTM = "/v1/long-term-memory"


@dataclass
class Load:
    """What the writers saw: acknowledged ids and every answer that was not a 200."""

    sessions: list[str] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)
    refused: list[httpx.Response] = field(default_factory=list)
    health_refused: list[httpx.Response] = field(default_factory=list)
    killed_at: float | None = None
    recovered_at: float | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def acked(self, count: int) -> bool:
        return len(self.memories) >= count

    async def recovered(self) -> bool:
        return self.recovered_at is not None

    def answered(self, r: httpx.Response, started: float) -> bool:
        if r.status_code != 200:
            self.refused.append(r)
            return False
        if self.killed_at is not None and started > self.killed_at and not self.recovered_at:
            self.recovered_at = time.monotonic()
        return True


async def _writer(http: httpx.AsyncClient, load: Load, i: int) -> None:
    n = 0
    while not load.stop.is_set():
        n += 1
        sid, mid = f"s{i}-{n}", f"m{i}-{n}"
        started = time.monotonic()
        put = await http.put(
            f"{WM}/{sid}", json={"messages": [{"role": "user", "content": f"note {sid}"}]}
        )
        if load.answered(put, started):
            load.sessions.append(sid)
        started = time.monotonic()
        post = await http.post(
            f"{LTM}/",
            json={"memories": [{"id": mid, "text": f"fact {mid}"}], "deduplicate": False},
        )
        if load.answered(post, started):
            load.memories.append(mid)


async def _health(http: httpx.AsyncClient, load: Load) -> None:
    while not load.stop.is_set():
        r = await http.get("/v1/health")
        if r.status_code != 200:
            load.health_refused.append(r)
        await asyncio.sleep(0.01)


def _kill(pid: int) -> None:
    """SIGKILL, and wait until it is dead: until then the server may still answer."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid):  # a zombie counts as dead
        assert time.monotonic() < deadline
        time.sleep(0.001)


def _redis_pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / "redis.json").read_text())["pid"])


async def test_sigkill_of_the_embedded_redis_under_load(tmp_path: Path) -> None:
    """SIGKILL of the embedded Redis during concurrent writes: 503s with Retry-After (health
    too) while it is down, the same app serves again within seconds, every 200 is kept."""
    app = create_app(Settings(redis_url=None, data_dir=tmp_path, redis_timeout_seconds=2.0))
    load = Load()
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        first_pid = _redis_pid(tmp_path)
        tasks = [asyncio.create_task(_writer(http, load, i)) for i in range(6)]
        tasks.append(asyncio.create_task(_health(http, load)))
        try:
            await wait_until(lambda: load.acked(20), timeout=60)
            _kill(first_pid)
            load.killed_at = time.monotonic()
            await wait_until(load.recovered, timeout=15)
            assert load.recovered_at
            outage = load.recovered_at - load.killed_at
            more = len(load.memories) + 20  # and it keeps serving
            await wait_until(lambda: load.acked(more), timeout=30)
            # Again, holding the data directory's lock as a slow restarter in another process
            # would: the outage lasts a second for sure, so every kind of answer is seen.
            second_pid = _redis_pid(tmp_path)
            assert second_pid != first_pid and not pid_alive(first_pid)
            assert _state(first_pid) == "gone"  # reaped (by its parent, this process)
            lock = await asyncio.to_thread(open, tmp_path / "redis.lock", "w")
            with lock:
                await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
                _kill(second_pid)
                load.killed_at, load.recovered_at = time.monotonic(), None
                await asyncio.sleep(1.0)
                fcntl.flock(lock, fcntl.LOCK_UN)
            await wait_until(load.recovered, timeout=15)
            more = len(load.memories) + 20
            await wait_until(lambda: load.acked(more), timeout=30)
        finally:
            load.stop.set()
            await asyncio.gather(*tasks)
        print(f"outage {outage:.2f} s, {len(load.refused)} refused writes")
        assert outage < 10
        assert load.refused and load.health_refused, "the outage was never seen"
        for r in load.refused + load.health_refused:
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"].isdigit(), r.headers
            assert r.json()["detail"], r.text
        third_pid = _redis_pid(tmp_path)
        assert third_pid != second_pid and not pid_alive(second_pid) and pid_alive(third_pid)
        # Every acknowledged write is there (it reached the AOF before the 200).
        sem = asyncio.Semaphore(16)

        async def get(path: str) -> httpx.Response:
            async with sem:
                return await http.get(path)

        got = await asyncio.gather(
            *[get(f"{WM}/{s}") for s in load.sessions],
            *[get(f"{LTM}/{m}") for m in load.memories],
        )
        missing = [r.request.url.path for r in got if r.status_code != 200]
        assert not missing, f"{len(missing)} acknowledged writes lost: {missing[:5]}"
        print(f"{len(load.sessions)} sessions and {len(load.memories)} memories all kept")
        # Searches (their own RESP2 pool) and listings reconnected too.
        found = await http.post(f"{LTM}/search", json={"text": f"fact {load.memories[0]}"})
        assert found.status_code == 200 and found.json()["total"] > 0, found.text
        listed = await http.get(f"{WM}/", params={"limit": 1})
        assert listed.status_code == 200 and listed.json()["total"] >= len(load.sessions)


def test_serve_with_two_workers_restarts_it_once(tmp_path: Path) -> None:
    """Two worker processes share one embedded Redis: after SIGKILL exactly one of them
    restarts it (under the data directory's lock), both serve again, the log says so, and the
    restarted Redis still stops with the server."""
    port = free_port()
    env = {**os.environ, "REMEM_DATA_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    env.pop("REMEM_REDIS_URL", None)
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["remem", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy(timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                    return time.monotonic()
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.02)

    try:
        healthy(60)
        time.sleep(1.0)  # both workers up
        old_pid = _redis_pid(tmp_path)
        _kill(old_pid)
        killed = time.monotonic()
        assert healthy(15) - killed < 10
        # Every new connection (spread over both workers by SO_REUSEPORT) is served.
        for i in range(40):
            r = httpx.put(f"{base}{WM}/s{i}", json={"messages": [{"role": "user", "content": "x"}]})
            assert r.status_code == 200, r.text
        time.sleep(1.0)  # let the other worker's supervisor look too
        new_pid = _redis_pid(tmp_path)
        assert new_pid != old_pid
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    text = log_path.read_text()
    restarts = [line for line in text.splitlines() if "restarted the embedded Redis" in line]
    assert len(restarts) == 1, text
    assert f"pid {new_pid}" in restarts[0] and "AOF replay" in restarts[0], restarts[0]
    deadline = time.monotonic() + 15
    while pid_alive(new_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(new_pid), "the restarted Redis outlived the server"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


async def test_a_redis_left_a_zombie_by_another_command_is_restarted(tmp_path: Path) -> None:
    """Another remem command started the shared Redis and is busy (it does not reap its dead
    child, which stays a zombie that still answers kill(pid, 0)): the app's supervisor sees
    the server is dead all the same and restarts it; the other command, the last user, still
    stops the restarted server when it exits."""
    holder = _holder(tmp_path)
    try:
        assert holder.stdout and holder.stdin
        holder.stdout.readline()  # its Redis is up
        first_pid = _redis_pid(tmp_path)
        app = create_app(Settings(redis_url=None, data_dir=tmp_path))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                assert _redis_pid(tmp_path) == first_pid  # shared, not a second server
                os.kill(first_pid, signal.SIGKILL)

                async def serving_again() -> bool:
                    r = await http.get("/v1/health")
                    return r.status_code == 200 and _redis_pid(tmp_path) != first_pid

                await wait_until(serving_again, timeout=15)
                assert _state(first_pid) == "Z"  # its parent never reaped it
                put = await http.put(
                    f"{WM}/z", json={"messages": [{"role": "user", "content": "after"}]}
                )
                assert put.status_code == 200
        new_pid = _redis_pid(tmp_path)
        assert pid_alive(new_pid)  # the holder still uses it
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not pid_alive(new_pid)


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    """Another remem command holding the shared Redis: it acquires it, then waits for its
    stdin to close (no supervisor, so it never reaps its child)."""
    code = (
        "import sys; from remem.store.embedded import EmbeddedRedis as E; "
        "e = E(sys.argv[1]); e.acquire(); print('up', flush=True); sys.stdin.read(); e.release()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_closing_while_redis_cannot_come_back_still_lets_it_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The AOF is corrupt, so the killed Redis cannot be restarted and the final flush of
    access counts fails: closing logs the counts it drops, stops the supervisor and
    unregisters."""
    app = create_app(Settings(redis_url=None, data_dir=tmp_path, access_flush_seconds=3600))
    with caplog.at_level(logging.WARNING, logger="remem.memory.access"):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                memory = {"id": "a", "text": "green tea"}
                assert (await http.post(f"{LTM}/", json={"memories": [memory]})).is_success
                found = await http.post(f"{LTM}/search", json={"text": "green tea"})
                assert found.json()["total"] == 1  # an access to flush on close
                _corrupt_aof(tmp_path)
                os.kill(_redis_pid(tmp_path), signal.SIGKILL)

                async def refused() -> bool:
                    return (await http.get("/v1/health")).status_code == 503

                await wait_until(refused)
                await asyncio.sleep(0.5)  # the supervisor has tried and failed
    assert "could not write 1 memory access counts at close" in caplog.text
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "remem-redis-supervisor"]
    assert list((tmp_path / "users").iterdir()) == []
    assert not (tmp_path / "redis.json").exists()


def _corrupt_aof(data_dir: Path) -> None:
    """Append what no Redis can replay (Redis appends after it: it stays in the middle)."""
    aof_dir = data_dir / "redis" / "appendonlydir"
    with open(next(aof_dir.glob("*.incr.aof")), "ab") as aof:
        aof.write(b"*1\r\n$3\r\nnot a command\r\n")


async def test_a_redis_whose_socket_was_deleted_is_restarted(tmp_path: Path) -> None:
    """A deleted socket file (a /tmp cleaner, a hand) leaves a live Redis nobody can reach: it
    is stopped (its AOF written out) and started again on the same path, the data kept."""
    app = create_app(Settings(redis_url=None, data_dir=tmp_path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = {"messages": [{"role": "user", "content": "kept"}]}
            assert (await http.put(f"{WM}/s", json=body)).status_code == 200
            record = json.loads((tmp_path / "redis.json").read_text())
            os.unlink(record["url"].removeprefix("unix://"))

            async def serving_again() -> bool:
                r = await http.get("/v1/health")
                return r.status_code == 200 and _redis_pid(tmp_path) != record["pid"]

            await wait_until(serving_again, timeout=15)
            got = await http.get(f"{WM}/s")
            assert got.json()["messages"][0]["content"] == "kept"
            assert json.loads((tmp_path / "redis.json").read_text())["url"] == record["url"]
