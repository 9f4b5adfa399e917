"""``remem serve`` and ``remem worker`` as users run them on a Redis Cluster: processes of their
own, REDIS_URL naming one node of the test cluster, REMEM_TASKS_REDIS_URL a single Redis (the
test run's); without the latter ``remem serve`` stops at once, saying why."""

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

from tests.cluster.conftest import UNHANDLED, forget_prefix
from tests.serving import free_port

PREFIX = f"p{uuid.uuid4().hex[:8]}:"  # the module's keys on the cluster

COMMAND = [shutil.which("remem") or ""] if shutil.which("remem") else [
    sys.executable, "-c", "from remem.cli import main; main()",
]  # fmt: skip


def _env(cluster_url: str, tasks_url: str | None, prefix: str, tmp: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "REDIS_URL": cluster_url,
        "REMEM_KEY_PREFIX": prefix,
        "REMEM_WORKING_MEMORY_INDEX": f"{prefix}wm_idx",
        "REMEM_LONG_TERM_MEMORY_INDEX": f"{prefix}lt_idx",
        "REMEM_DATA_DIR": str(tmp / "unused-data-dir"),
        "REMEM_EXTRACTION_DEBOUNCE_SECONDS": "0.2",
        "REMEM_TASK_POLL_SECONDS": "0.1",
    }
    env.pop("REMEM_TASKS_REDIS_URL", None)
    if tasks_url:
        env["REMEM_TASKS_REDIS_URL"] = tasks_url
    return env


@pytest.fixture
def processes(
    cluster_url: str, redis_url: str, tmp_path: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test starts, stopped after it, and its prefix's keys then dropped; what
    they logged (``*.log`` in the test's directory) must not name CROSSSLOT or a MOVED/ASK
    redirection, as the conftest checks of what this process logs."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.terminate()
        proc.wait(20)
    forget_prefix(cluster_url, redis_url, PREFIX)
    logged = {log.name: log.read_text(errors="replace") for log in tmp_path.glob("*.log")}
    assert logged, "the processes' logs were not found"
    for name, text in logged.items():
        seen = [line for line in text.splitlines() if UNHANDLED.search(line)]
        assert not seen, f"{name}: {seen[:5]}"


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([*COMMAND, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _answering(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "remem serve did not answer within 60 s"
        time.sleep(0.1)


def test_serve_and_a_worker_process_on_the_cluster(
    cluster_url: str, redis_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A server without a worker takes the writes; a ``remem worker`` of its own extracts them
    into long-term memories, found by the server's search."""
    env = _env(cluster_url, redis_url, PREFIX, tmp_path)
    port = free_port()
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    serve_env = {**env, "REMEM_PORT": str(port), "REMEM_RUN_WORKER": "false"}
    processes.append(_start(["serve"], serve_env, serve_log))
    base = f"http://127.0.0.1:{port}"
    _answering(processes[0], base, serve_log)
    processes.append(_start(["worker"], env, worker_log))
    with httpx.Client(timeout=30) as http:
        for ns in ("north", "south", "east"):
            body = {"namespace": ns, "messages": [{"role": "user", "content": f"I live {ns}"}]}
            assert http.put(f"{base}/v1/working-memory/s", json=body).status_code == 200
        deadline = time.monotonic() + 30
        while True:
            assert processes[1].poll() is None, worker_log.read_text()
            found = http.post(f"{base}/v1/long-term-memory/search", json={"text": "live"})
            texts = sorted(m["text"] for m in found.json()["memories"])
            if len(texts) == 3:
                break
            assert time.monotonic() < deadline, (texts, worker_log.read_text())
            time.sleep(0.2)
    assert texts == ["user: I live east", "user: I live north", "user: I live south"]


def test_serve_stops_without_a_tasks_redis(cluster_url: str, tmp_path: Path) -> None:
    env = _env(cluster_url, None, f"p{uuid.uuid4().hex[:8]}:", tmp_path)
    done = subprocess.run(
        [*COMMAND, "serve"], env={**env, "REMEM_PORT": str(free_port())},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "set REMEM_TASKS_REDIS_URL to a single Redis" in done.stdout + done.stderr
