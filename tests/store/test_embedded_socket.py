"""The embedded Redis is reachable by its owner only: a unix socket in a 0700 directory, no TCP
port, whatever the length of the data directory's path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from remem.errors import IncompatibleBackend
from remem.store.embedded import EmbeddedRedis

# The launcher itself: the REDIS_URL pass of CI leaves these out (they start their own Redis).
pytestmark = pytest.mark.embedded_only

NOBODY = 65534
# A python another user can execute (the test runner's may live under a 0700 home).
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


def _tcp_listening_ports(pid: int) -> list[int]:
    """The TCP ports process ``pid`` listens on, read from /proc (no tool needed)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _private(path: Path) -> None:
    info = path.lstat()
    assert info.st_uid == os.getuid()
    assert stat.S_IMODE(info.st_mode) & 0o077 == 0, oct(info.st_mode)


def _connect_as_nobody(sock: str) -> subprocess.CompletedProcess[str]:
    probe = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])"
    assert SYSTEM_PYTHON
    return subprocess.run(
        [SYSTEM_PYTHON, "-c", probe, sock],
        user=NOBODY,
        group=NOBODY,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _check_owner_only(data_dir: Path) -> str:
    server = EmbeddedRedis(data_dir)
    url = server.acquire()
    try:
        record = json.loads((data_dir / "redis.json").read_text())
        assert url.startswith("unix://"), url
        sock = Path(url.removeprefix("unix://"))
        assert len(str(sock)) < 104  # sun_path is 108 bytes on Linux
        client = redis.Redis.from_url(url, decode_responses=True)
        try:
            assert client.config_get("port") == {"port": "0"}
        finally:
            client.close()
        assert _tcp_listening_ports(int(record["pid"])) == []
        _private(sock.parent)
        assert stat.S_IMODE(sock.stat().st_mode) & 0o077 == 0
        if os.getuid() == 0 and SYSTEM_PYTHON:  # root can become another user and try
            tried = _connect_as_nobody(str(sock))
            assert tried.returncode != 0 and "PermissionError" in tried.stderr, tried
    finally:
        server.release()
    return url


def test_embedded_redis_has_no_tcp_port_and_a_private_socket(tmp_path: Path) -> None:
    data_dir = tmp_path / "shared"
    data_dir.mkdir(mode=0o755)  # a data directory others may list
    data_dir.chmod(0o755)
    _check_owner_only(data_dir)
    # Its data is the owner's only too (the AOF holds every memory).
    _private(data_dir / "redis")
    for aof in (data_dir / "redis" / "appendonlydir").iterdir():
        assert stat.S_IMODE(aof.stat().st_mode) & 0o077 == 0, aof


def test_a_long_data_dir_path_still_gets_a_unix_socket(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 80) / ("e" * 80)
    first = _check_owner_only(data_dir)
    assert not first.removeprefix("unix://").startswith(str(tmp_path))
    # The path is stable: the next start (another process, a restart) uses the same socket.
    assert _check_owner_only(data_dir) == first
    assert not Path(first.removeprefix("unix://")).parent.exists()  # removed with the server


def test_a_short_socket_dir_owned_by_someone_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to create a directory owned by another user")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    (runtime / "remem").mkdir(mode=0o700)
    os.chown(runtime / "remem", NOBODY, NOBODY)  # planted by another user
    server = EmbeddedRedis(tmp_path / ("d" * 80) / ("e" * 80))
    try:
        with pytest.raises(IncompatibleBackend, match="owned by uid 65534"):
            server.acquire()
    finally:
        server.release()  # stops what a wrong acquire would have started


def test_a_restart_keeps_the_socket_path_whatever_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process that restarts the server may lack the $XDG_RUNTIME_DIR of the one that
    started it: the socket stays where the running processes' pools look for it."""
    runtime = Path(tempfile.mkdtemp(prefix="xdg", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    server = EmbeddedRedis(tmp_path / ("d" * 80) / ("e" * 80))
    try:
        url = server.acquire()
        assert url.startswith(f"unix://{runtime}/remem/")
        monkeypatch.delenv("XDG_RUNTIME_DIR")
        pid = int(json.loads((server.data_dir / "redis.json").read_text())["pid"])
        os.kill(pid, signal.SIGKILL)
        while server.running():
            time.sleep(0.01)
        assert server.recover()
        record = json.loads((server.data_dir / "redis.json").read_text())
        assert record["url"] == url and record["pid"] != pid
        assert redis.Redis.from_url(url).ping()
    finally:
        server.release()
        shutil.rmtree(runtime)
