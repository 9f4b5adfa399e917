"""`remem erase` asks before it erases: on a terminal it shows what it will erase (sessions and
memories counted) and erases only on a yes; without a terminal to ask on it needs --yes."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import time

import httpx

from remem.config import Settings
from tests.cli.test_data_commands import MEMORIES, remem

LT = "/v1/long-term-memory"


async def seed(client: httpx.AsyncClient) -> None:
    """Ada: two memories and one session in n1; Bob: a memory in n2."""
    r = await client.post(f"{LT}/", json={"memories": MEMORIES})
    assert r.status_code == 200, r.text
    body = {"namespace": "n1", "user_id": "ada", "messages": [{"role": "user", "content": "hi"}]}
    r = await client.put("/v1/working-memory/chat-1", json=body)
    assert r.status_code == 200, r.text


def on_a_terminal(settings: Settings, answer: str, *args: str) -> tuple[int, str]:
    """`remem *args` with a pseudo-terminal for stdin, stdout and stderr, answering its
    question with ``answer``; its exit code and everything it wrote."""
    env = {
        **os.environ,
        "REMEM_REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
    }
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [shutil.which("remem") or "remem", *args], env=env,
        stdin=follower, stdout=follower, stderr=follower, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    seen, answered = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and b"[y/N]" in seen:
                os.write(leader, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        assert answered, seen.decode(errors="replace")
        return proc.wait(30), seen.decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()


async def memory_ids(client: httpx.AsyncClient) -> set[str]:
    r = await client.post(f"{LT}/search", json={"text": "", "limit": 100})
    return {m["id"] for m in r.json()["memories"]}


async def test_on_a_terminal_it_shows_what_it_will_erase_and_erases_only_on_yes(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await seed(client)
    code, shown = on_a_terminal(settings, "n", "erase", "--user", "ada", "--namespace", "n1")
    assert code == 1 and "remem: nothing erased" in shown, shown
    question = next(line for line in shown.splitlines() if "[y/N]" in line)
    assert "user 'ada' in namespace 'n1'" in question
    assert "1 session and 2 long-term memories" in question
    assert await memory_ids(client) == {"m1", "m2", "m3"}
    code, shown = on_a_terminal(settings, "y", "erase", "--user", "ada", "--namespace", "n1")
    assert code == 0, shown
    receipt = json.loads(shown[shown.index("{") :])
    assert receipt["counts"]["long_term_memories"] == 2
    assert receipt["counts"]["working_memory_sessions"] == 1
    assert await memory_ids(client) == {"m3"}


async def test_without_a_terminal_it_needs_yes(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await seed(client)
    refused = remem(settings, "erase", "--user", "ada", "--namespace", "n1", check=False)
    assert refused.returncode == 2 and not refused.stdout
    assert refused.stderr.strip() == (
        "remem: erase asks before erasing, and stdin is not a terminal: add --yes"
    )
    assert await memory_ids(client) == {"m1", "m2", "m3"}
    done = remem(settings, "erase", "--namespace", "n2", "--yes")
    assert json.loads(done.stdout)["counts"]["long_term_memories"] == 1
    assert await memory_ids(client) == {"m1", "m2"}
