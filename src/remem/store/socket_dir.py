"""Where the embedded Redis puts its unix socket: a directory only its owner can enter.

The socket is the only way in (the server has no TCP port), so the directory's permissions are
the access control. Normally it is ``<data_dir>/run/``; a unix socket path must fit in 108 bytes
(``sun_path``), so for a longer data directory it is a short private directory named after a hash
of the data directory: ``$XDG_RUNTIME_DIR/remem/<hash>/`` or else ``/tmp/remem-<uid>/<hash>/``.
Every process computes the same path, so the path is stable across restarts and the redis-py
pools of running processes reconnect by themselves. A directory that exists but belongs to
another user (planted in /tmp, say) is refused, never used.
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
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    base = _short_base()
    _private_dir(base)
    _private_dir(base / digest)
    return base / digest / SOCKET_NAME


def _short_base() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "remem"
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
