"""`remem sessions ...` and `remem memories ...` run as a user runs them (subprocesses), against
the test Redis: export -> delete -> import restores the same memories, search results included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from remem.config import Settings

LT = "/v1/long-term-memory"


def remem(
    settings: Settings, *args: str, check: bool = True, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """The `remem` command with the test's Redis, key prefix and index names."""
    env = {
        **os.environ,
        "REMEM_REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        **extra_env,
    }
    done = subprocess.run(
        [shutil.which("remem") or "remem", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stderr
    return done


MEMORIES = [
    {"id": "m1", "text": "Ada drinks green tea", "namespace": "n1", "user_id": "ada",
     "topics": ["drinks"], "entities": ["Ada"], "pinned": True},
    {"id": "m2", "text": "Ada rides a red bicycle", "namespace": "n1", "user_id": "ada",
     "memory_type": "episodic", "event_date": "2026-11-30T08:00:00Z",
     "search_text": "Ada rides a red bicycle to the office every day"},
    {"id": "m3", "text": "Bob plays chess on Sundays", "namespace": "n2", "user_id": "bob"},
]  # fmt: skip


async def search(client: httpx.AsyncClient, text: str) -> list[tuple[str, float]]:
    """Semantic: the vectors decide (BM25's statistics count deleted documents until the
    index's garbage collection runs, so keyword scores move after a delete and re-import)."""
    body = {"text": text, "search_mode": "semantic", "recency_boost": False}  # no clock in it
    r = await client.post(f"{LT}/search", json=body)
    assert r.status_code == 200, r.text
    return [(m["id"], round(m["score"], 6)) for m in r.json()["memories"]]


async def test_export_delete_import_restores_the_same_memories(
    settings: Settings, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    r = await client.post(f"{LT}/", json={"memories": MEMORIES})
    assert r.status_code == 200, r.text
    before = {m["id"]: (await client.get(f"{LT}/{m['id']}")).json() for m in MEMORIES}
    ranked = await search(client, "what does Ada ride to the office?")
    out = tmp_path / "memories.jsonl"
    remem(settings, "memories", "export", "-o", str(out))
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "remem-memories" and len(lines) == 4
    only_ada = remem(settings, "memories", "export", "--user-id", "ada").stdout.splitlines()
    assert sorted(json.loads(x)["id"] for x in only_ada[1:]) == ["m1", "m2"]
    remem(settings, "memories", "delete", "m1", "m2", "m3")
    assert (await client.get(f"{LT}/m1")).status_code == 404
    done = remem(settings, "memories", "import", str(out))
    assert "imported 3 memories" in done.stdout and "vectors kept" in done.stdout
    after = {m["id"]: (await client.get(f"{LT}/{m['id']}")).json() for m in MEMORIES}
    assert after == before
    assert await search(client, "what does Ada ride to the office?") == ranked


async def test_memories_and_sessions_commands(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await client.post(f"{LT}/", json={"memories": MEMORIES})
    await client.put(
        "/v1/working-memory/chat-1",
        json={"namespace": "n1", "user_id": "ada", "context": "about tea",
              "messages": [{"role": "user", "content": "I like tea"}]},
    )  # fmt: skip
    found: dict[str, Any] = json.loads(
        remem(settings, "memories", "search", "tea", "--namespace", "n1", "--json").stdout
    )
    assert found["memories"][0]["id"] == "m1"
    shown = remem(settings, "memories", "show", "m2").stdout
    assert "memory_type: episodic" in shown
    listed = json.loads(remem(settings, "sessions", "list", "--namespace", "n1", "--json").stdout)
    assert listed == {"sessions": ["chat-1"], "total": 1}
    assert "user: I like tea" in remem(settings, "sessions", "show", "chat-1").stdout
    remem(settings, "sessions", "delete", "chat-1", "--namespace", "n1", "--user-id", "ada")
    missing = remem(settings, "sessions", "show", "chat-1", check=False)
    last = missing.stderr.strip().splitlines()[-1]  # after any warning about the Redis itself
    assert missing.returncode == 1 and last == "remem: Session chat-1 not found"
    bad = remem(settings, "memories", "import", "/dev/null", check=False)  # a bad argument
    assert bad.returncode == 2 and "not a remem export" in bad.stderr


async def test_sessions_list_names_the_namespace_and_user_of_each_session(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """One id in two namespaces lists as two rows told apart, newest first; a page holding
    one of them names both candidates."""
    for scope in ({"namespace": "n1", "user_id": "ada"}, {"namespace": "n2", "user_id": "bob"}):
        body = {**scope, "messages": [{"role": "user", "content": "hello"}]}
        r = await client.put("/v1/working-memory/chat", json=body)
        assert r.status_code == 200, r.text
    listed = remem(settings, "sessions", "list").stdout.splitlines()
    assert listed == [
        "chat  namespace=n2 user=bob",
        "chat  namespace=n1 user=ada",
        "(2 in all)",
    ]
    first = remem(settings, "sessions", "list", "--limit", "1").stdout.splitlines()
    assert first == ["chat  namespace=n2 user=bob or namespace=n1 user=ada", "(2 in all)"]
    only = remem(settings, "sessions", "list", "--user-id", "ada").stdout.splitlines()
    assert only == ["chat  namespace=n1 user=ada", "(1 in all)"]
