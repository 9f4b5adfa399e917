"""Export of a user's data over real HTTP and from the CLI: one JSON Lines format that
``remem memories import`` reads back."""

from __future__ import annotations

import io
import json

import httpx

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.tenants.transfer import import_memories
from tests.cli.test_data_commands import remem
from tests.security.seed import seed_memories, seed_sessions
from tests.serving import served


async def test_a_users_export_holds_sessions_and_memories_and_imports_back(
    settings: Settings,
) -> None:
    """GET /v1/export streams the header, the user's sessions (``kind: working_memory``) and
    memories, nobody else's; after an erase, importing it restores the memories (ids and
    vectors kept) and passes over the session lines."""
    app = create_app(settings.model_copy(update={"run_worker": False}))
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        res: Resources = app.state.resources
        ids = await seed_memories(res, "ada", "n1", 1_200)  # two pages of the index cursor
        await seed_sessions(res, "ada", "n1", 3)
        await seed_memories(res, "bob", "n1", 5)
        async with http.stream("GET", "/v1/export", params={"user_id": "ada"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            text = "".join([chunk async for chunk in r.aiter_text()])
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[0]["format"] == "remem-memories"
        sessions = [line for line in lines[1:] if line.get("kind") == "working_memory"]
        memories = [line for line in lines[1:] if "kind" not in line]
        assert sorted(s["session_id"] for s in sessions) == ["session-0", "session-1", "session-2"]
        assert sessions[0]["messages"][0]["content"].startswith("hello")
        assert sorted(m["id"] for m in memories) == sorted(ids)
        assert {(m["user_id"], m["namespace"]) for m in memories} == {("ada", "n1")}

        erased = await http.post("/v1/erasures", json={"user_id": "ada"})
        assert erased.json()["counts"]["long_term_memories"] == 1_200
        done = await import_memories(res.long_term, io.StringIO(text), progress=lambda _: None)
        assert (done.memories, done.sessions, done.skipped, done.refused) == (1_200, 3, 0, 0)
        assert not done.reembedded
        back = await http.get(f"/v1/long-term-memory/{ids[0]}")
        assert back.status_code == 200 and back.json()["user_id"] == "ada"


async def test_cli_export_of_a_user_with_sessions_and_the_cli_erase(settings: Settings) -> None:
    """`remem memories export --user U --sessions` writes what GET /v1/export streams;
    `remem erase --user U` prints the receipt as JSON."""
    async with Resources(settings.model_copy(update={"run_worker": False})) as res:
        await seed_memories(res, "ada", "n1", 4)
        await seed_sessions(res, "ada", "n1", 2)
    exported = remem(settings, "memories", "export", "--user", "ada", "--sessions")
    kinds = [json.loads(line).get("kind", "memory") for line in exported.stdout.splitlines()[1:]]
    assert sorted(kinds) == ["memory"] * 4 + ["working_memory"] * 2
    receipt = json.loads(remem(settings, "erase", "--user", "ada", "--yes").stdout)
    assert receipt["counts"]["long_term_memories"] == 4
    assert receipt["counts"]["working_memory_sessions"] == 2
    assert receipt["requested_by"] == "local"
    refused = remem(settings, "erase", check=False)
    assert refused.returncode == 2 and "name a user_id" in refused.stderr
