"""Partition summaries by an LLM: tests/llm_server.py over real HTTP, the app configured with
it. One call a partition whose memories fit the budget; larger ones chunk by chunk, oldest
first, each call carrying the summary so far, so every memory reaches the model once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from remem.api.app import create_app
from remem.background.view_summarizers import LLMViewSummary
from remem.config import Settings
from remem.llm.client import LLMClient
from remem.models.memory import MemoryRecord
from remem.models.views import SummaryView
from tests.helpers import assert_4xx_with_reason, wait_until
from tests.llm_server import Answer, Call, FakeLLM, llm_server

SV = "/v1/summary-views"


def listing(call: Call) -> Answer:
    """A summary naming the texts it was given after the summary so far: "prev|t1;t2"."""
    asked = call.user_json
    texts = ";".join(m["text"] for m in asked["memories"])
    return Answer.json({"summary": f"{asked['summary_so_far'] or ''}|{texts}"})


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with llm_server() as server:
        server.respond = listing
        yield server


@pytest.fixture
async def app_client(settings: Settings, llm: FakeLLM) -> AsyncIterator[httpx.AsyncClient]:
    with_llm = settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": "m", "llm_max_retries": 0}
    )
    app = create_app(with_llm)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http


async def test_one_llm_call_per_partition_with_the_views_prompt(
    app_client: httpx.AsyncClient, llm: FakeLLM
) -> None:
    memories = [
        {
            "text": f"{user} fact {i}",
            "user_id": user,
            "topics": ["t"],
            "created_at": f"2026-01-0{i + 1}T00:00:00Z",
        }
        for user in ("ana", "bo")
        for i in range(3)
    ]
    r = await app_client.post(
        "/v1/long-term-memory/", json={"memories": memories, "deduplicate": False}
    )
    assert r.status_code == 200, r.text
    r = await app_client.post(
        SV,
        json={"source": "long_term", "group_by": ["user_id"], "prompt": "Focus on hobbies."},
    )
    view = r.json()
    r = await app_client.post(f"{SV}/{view['id']}/run", json={})
    task_id = r.json()["id"]

    async def done() -> bool:
        return (await app_client.get(f"/v1/tasks/{task_id}")).json()["status"] == "success"

    await wait_until(done, timeout=20)
    assert len(llm.calls) == 2  # one per user
    asked = sorted((c.user_json for c in llm.calls), key=lambda a: a["group"]["user_id"])
    assert [a["group"] for a in asked] == [{"user_id": "ana"}, {"user_id": "bo"}]
    assert [m["text"] for m in asked[0]["memories"]] == [f"ana fact {i}" for i in range(3)]
    assert asked[0]["memories"][0]["topics"] == ["t"]
    for call in llm.calls:
        assert sum(m["content"].count("Focus on hobbies.") for m in call.messages) == 1
    listed = (await app_client.get(f"{SV}/{view['id']}/partitions")).json()
    assert [p["summary"] for p in listed] == [
        "|ana fact 0;ana fact 1;ana fact 2",
        "|bo fact 0;bo fact 1;bo fact 2",
    ]


async def test_a_large_partition_is_summarised_chunk_by_chunk_in_order(llm: FakeLLM) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    memories = [
        MemoryRecord(text=f"m{i:02d} " + "word " * 40, created_at=start + timedelta(hours=i))
        for i in range(30)
    ]
    client = LLMClient(model="m", base_url=llm.base_url, max_retries=0)
    try:
        view = SummaryView(id="v", source="long_term")
        summary = await LLMViewSummary(client, chunk_tokens=300).summarize(view, {}, memories)
    finally:
        await client.aclose()
    assert len(llm.calls) > 3
    sent = [m["text"] for c in llm.calls for m in c.user_json["memories"]]
    assert sent == [m.text for m in memories]  # each once, oldest first
    for before, call in zip(llm.calls, llm.calls[1:], strict=False):
        previous = json.loads(before.body["messages"][-1]["content"])
        assert call.user_json["summary_so_far"].endswith(
            ";".join(m["text"] for m in previous["memories"])
        )
    assert summary.count("|") == len(llm.calls)


async def test_an_llm_failure_fails_the_task_and_the_partition_run(
    app_client: httpx.AsyncClient, llm: FakeLLM
) -> None:
    """The LLM down: a full run ends failed with the reason; a partition run is a 503 and
    stores nothing."""
    llm.respond = lambda call: Answer.error(500, message="model overloaded")
    await app_client.post(
        "/v1/long-term-memory/", json={"memories": [{"text": "x"}], "deduplicate": False}
    )
    view = (await app_client.post(SV, json={"source": "long_term"})).json()
    r = await app_client.post(f"{SV}/{view['id']}/partitions/run", json={"group": {}})
    assert r.status_code == 503 and r.json()["code"] == "llm_unavailable", r.text
    assert (await app_client.get(f"{SV}/{view['id']}/partitions")).json() == []
    task_id = (await app_client.post(f"{SV}/{view['id']}/run")).json()["id"]

    async def finished() -> dict[str, object] | None:
        task = (await app_client.get(f"/v1/tasks/{task_id}")).json()
        return task if task["status"] in ("success", "failed") else None

    task = await wait_until(finished, timeout=20)
    assert task["status"] == "failed" and "overloaded" in str(task["error_message"])
    assert task["completed_at"] is not None
    assert (await app_client.get(f"{SV}/{view['id']}/partitions")).json() == []
    assert_4xx_with_reason(await app_client.get("/v1/tasks/other"), 404)
