"""Running the API: one process, or N worker processes each with its own listening socket.

uvicorn's own ``--workers`` shares one socket between processes, and whichever process wakes
first takes a burst of new connections (16 keep-alive clients landed 16/0 on two workers in our
benchmark). Here each worker binds its own socket with SO_REUSEPORT, so the kernel spreads
connections evenly across the workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
from types import FrameType

import uvicorn

from remem.metrics import MULTIPROC_DIR


def _config(host: str, port: int, log_level: str, log_format: str) -> uvicorn.Config:
    """uvicorn serving ``remem.app``. Its lines go through remem's handler in JSON (no
    ``log_config``: uvicorn's loggers, left without handlers, pass their records up to the
    root's); in text, uvicorn keeps its own format, as before."""
    return uvicorn.Config(
        "remem.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None if log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
    )


def _worker(host: str, port: int, log_level: str, log_format: str) -> None:
    os.setpgrp()  # a Ctrl-C reaches the parent only, which forwards it once
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    uvicorn.Server(_config(host, port, log_level, log_format)).run(sockets=[sock])


def run(host: str, port: int, workers: int, log_level: str, log_format: str) -> None:
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.Server(_config(host, port, log_level, log_format)).run()
        return
    made = None
    if not os.environ.get(MULTIPROC_DIR):  # every worker's metrics in one /metrics answer
        made = os.environ[MULTIPROC_DIR] = tempfile.mkdtemp(prefix="remem-metrics-")
    ctx = multiprocessing.get_context("spawn")
    args = (host, port, log_level, log_format)
    procs = [ctx.Process(target=_worker, args=args) for _ in range(workers)]
    for proc in procs:
        proc.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for proc in procs:
            if proc.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    for proc in procs:
        proc.join()
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
