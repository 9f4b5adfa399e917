"""Where the embedded Redis puts its unix socket: a directory only its owner can enter.

The socket is the only way in (the server has no TCP port), so the directory's permissions are
the access control. Normally it is ``<data_dir>/run/``; a unix socket path must fit in 108 bytes
(``sun_path``), so for a longer data directory it is a short private directory named after a hash
of the data directory: ``$XDG_RUNTIME_DIR/remem/<hash>/`` or else ``/tmp/remem-<uid>/<hash>/``.
A restart reuses the recorded path (``recorded_socket``), so the redis-py pools of running
processes reconnect by themselves even when the restarting process has another
``$XDG_RUNTIME_DIR``. A directory that exists but belongs to another user (planted in /tmp, say)
is refused, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from remem.errors import IncompatibleBackend

SOCKET_NAME = "redis.sock"
# sun_path holds 108 bytes with the terminating NUL; keep a margin below it.
MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    """The socket path of the embedded Redis of ``data_dir``, its directory made private."""
    preferred = data_dir / "run" / SOCKET_NAME
    if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH:
        _private_dir(preferred.parent)
        return preferred
    base = _short_base()
    _private_dir(base)
    _private_dir(base / _digest(data_dir))
    return base / _digest(data_dir) / SOCKET_NAME


def recorded_socket(url: str, data_dir: Path) -> Path | None:
    """The socket path of a server recorded before, if socket_path made it for this data
    directory and its directories are still private: a restart must keep it (the connection
    pools of running processes hold it, and ``$XDG_RUNTIME_DIR`` may differ between
    processes, or be gone)."""
    if not url.startswith("unix://"):
        return None
    sock = Path(url.removeprefix("unix://"))
    if sock.name != SOCKET_NAME or len(os.fsencode(sock)) > MAX_SOCKET_PATH:
        return None
    short = sock.parent.name == _digest(data_dir) and sock.parent.parent.name.startswith("remem")
    if sock.parent != data_dir / "run" and not short:
        return None  # not one of ours (an older remem kept it at <data_dir>/redis.sock)
    try:
        if short:
            _private_dir(sock.parent.parent)
        _private_dir(sock.parent)
    except (OSError, IncompatibleBackend):
        return None
    return sock


def _digest(data_dir: Path) -> str:
    return hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]


def _short_base() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        base = Path(runtime) / "remem"
        if len(os.fsencode(base / ("0" * 16) / SOCKET_NAME)) <= MAX_SOCKET_PATH:
            return base
    return Path("/tmp") / f"remem-{os.getuid()}"


def _private_dir(path: Path) -> None:
    """Create ``path`` mode 0700, or check that the existing one is a directory of ours (not a
    symlink) and tighten it to 0700."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise IncompatibleBackend(f"{path} is not a directory; remove it (embedded Redis socket)")
    if info.st_uid != os.getuid():
        raise IncompatibleBackend(
            f"{path} is owned by uid {info.st_uid}, not by us (uid {os.getuid()}): another user "
            "could reach the embedded Redis socket there; remove it, or use a data directory "
            "with a shorter path"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
