"""``remem serve`` started as a subprocess for the benchmarks: a free port, a fresh data
directory (embedded Redis on a unix socket), health polling, process ids for CPU accounting, and
a stop that waits until the embedded Redis has really gone."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _load import descendants


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def remem_command() -> list[str]:
    exe = Path(sys.executable).with_name("remem")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("remem")
    if not found:
        sys.exit("bench: the `remem` command is not installed (pip install -e .)")
    return [found]


class Server:
    """``remem serve`` on a fresh data directory; ``stop`` also waits for the embedded Redis."""

    def __init__(self, workers: int, env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self.env = env or {}  # REMEM_ settings for the server
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix="rb-", dir="/tmp"))  # short: unix socket
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.redis_url = ""
        self.redis_pid = 0

    def start(self, timeout: float = 90.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REMEM_")}
        env.pop("REDIS_URL", None)  # the server must start its own embedded Redis
        env.update(REMEM_DATA_DIR=str(self.data_dir), REMEM_LOG_LEVEL="warning")
        env.update(self.env)
        cmd = [*remem_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--workers", str(self.workers)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"remem serve exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/v1/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"remem serve not healthy after {timeout}s:\n{self.log()}")
            time.sleep(0.1)
        if self.workers > 1:  # every worker must be up, not just the first one
            time.sleep(1.0)
        record = json.loads((self.data_dir / "redis.json").read_text())
        self.redis_url, self.redis_pid = record["url"], int(record["pid"])

    def server_pids(self) -> list[int]:
        """The uvicorn processes (supervisor and workers), without the embedded Redis and its
        forks (an AOF rewrite runs in a child of redis-server)."""
        assert self.proc
        redis_tree = set(descendants(self.redis_pid)) if self.redis_pid else set()
        return [p for p in descendants(self.proc.pid) if p not in redis_tree]

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the server itself, or its uvicorn workers."""
        assert self.proc
        if self.workers == 1:
            return [self.proc.pid]
        return [
            p
            for p in self.server_pids()
            if p != self.proc.pid and "resource_tracker" not in _cmdline(p)
        ]

    def log(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                self.proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(wait)
                    break
        # The last worker to exit shuts the embedded Redis down; make sure it really did.
        deadline = time.monotonic() + 15
        while self.redis_pid and alive(self.redis_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.redis_pid and alive(self.redis_pid):
            print(f"  ! embedded Redis (pid {self.redis_pid}) still running; SIGTERM")
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.redis_pid, signal.SIGTERM)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of an exited server still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
