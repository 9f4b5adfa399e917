"""remem's list of failed task runs (``store.failures``): a run that fails is in ``GET
/v1/tasks`` with its session, error and attempt; erasing the session takes it out; the list
keeps the newest ``KEPT``."""

from __future__ import annotations

import asyncio
import time

import httpx

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.failures import KEPT, session_of
from tests.lifecycle.conftest import DEBOUNCE
from tests.llm_server import Answer, llm_server

SCOPE = {"namespace": "fail-ns", "user_id": "fail-user"}


async def test_a_failed_extraction_is_listed_and_erased_with_its_session(quick: Settings) -> None:
    async with llm_server() as llm:
        llm.respond = lambda call: Answer.error(500, message="scripted outage")
        settings = quick.model_copy(
            update={"llm_base_url": llm.base_url, "llm_model": "m", "llm_max_retries": 0}
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                body = {"messages": [{"role": "user", "content": "I grow tomatoes"}], **SCOPE}
                r = await http.put("/v1/working-memory/failing", json=body)
                assert r.status_code == 200, r.text
                deadline = time.monotonic() + 30
                while True:
                    failed = (await http.get("/v1/tasks")).json()["failed"]
                    if failed:
                        break
                    assert time.monotonic() < deadline, "no failed run listed within 30 s"
                    await asyncio.sleep(DEBOUNCE)
                (run,) = failed[:1]
                assert run["kind"] == "extract" and run["task"] == "extract_memories"
                assert run["namespace"] == "fail-ns" and run["session_id"] == "failing"
                assert run["error"].startswith("LLMUnavailable") and run["attempt"] == 1
                assert run["final"] is False  # retried, with backoff
                erase = {"user_id": "fail-user", "namespace": "fail-ns"}
                r = await http.post("/v1/erasures", json=erase)
                assert r.status_code == 200, r.text
                left = (await http.get("/v1/tasks")).json()["failed"]
                assert not [f for f in left if f["session_id"] == "failing"], left


async def test_the_list_keeps_the_newest_and_reads_task_keys(resources: Resources) -> None:
    failures = resources.tasks.failures
    key = resources.keys.working_memory("s", "u", "ns")
    for n in range(KEPT + 5):
        await failures.record(f"extract:{key}", "extract_memories", f"E{n}", 1, final=False)
    recent = await failures.recent(3)
    assert [f["error"] for f in recent] == [f"E{KEPT + 4}", f"E{KEPT + 3}", f"E{KEPT + 2}"]
    assert len(await failures.recent(KEPT * 2)) == KEPT
    assert session_of(f"summarize:8192:{key}") == key == session_of(f"extract:{key}")
    assert await failures.forget([resources.keys.working_memory("other", "u", "ns")]) == 0
    assert await failures.forget([key]) == KEPT
    assert await failures.recent(10) == []
