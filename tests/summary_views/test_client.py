"""Summary views and tasks through the official client, agent-memory-client 0.14.0, unchanged,
over real HTTP, with no LLM configured: summaries are the deterministic digest."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from agent_memory_client import MemoryAPIClient
from agent_memory_client.exceptions import MemoryClientError
from agent_memory_client.models import ClientMemoryRecord, CreateSummaryViewRequest

from remem.api.app import create_app
from remem.config import Settings
from tests.helpers import wait_until
from tests.serving import official_client

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
async def ams(settings: Settings) -> AsyncIterator[MemoryAPIClient]:
    async with official_client(create_app(settings), "app") as client:
        yield client


def memory(text: str, user: str, **fields: object) -> ClientMemoryRecord:
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return ClientMemoryRecord(text=text, user_id=user, created_at=at, **fields)  # type: ignore[arg-type]


async def test_views_partitions_and_a_background_run(ams: MemoryAPIClient) -> None:
    """A view grouped by user: one partition run now, then a full run as a task that ends in
    success with a summary per user, each made of that user's memories only."""
    await ams.create_long_term_memory(
        [
            memory("Ana likes green tea", "ana", topics=["drinks"]),
            memory("Ana lives in Lisbon", "ana", topics=["home"], entities=["Lisbon"]),
            memory("Bo plays chess on Sundays", "bo", topics=["games"]),
        ]
    )
    view = await ams.create_summary_view(
        CreateSummaryViewRequest(name="by user", source="long_term", group_by=["user_id"])
    )
    assert view.id and view.group_by == ["user_id"] and view.source == "long_term"
    assert [v.id for v in await ams.list_summary_views()] == [view.id]
    got = await ams.get_summary_view(view.id)
    assert got is not None and got.name == "by user"

    one = await ams.run_summary_view_partition(view.id, {"user_id": "ana"})
    assert one.group == {"user_id": "ana"} and one.memory_count == 2
    assert "2 memories, 2026-03-01 to 2026-03-01." in one.summary
    assert "Lisbon" in one.summary and "chess" not in one.summary
    listed = await ams.list_summary_view_partitions(view.id)
    assert [(p.group, p.memory_count) for p in listed] == [({"user_id": "ana"}, 2)]

    task = await ams.run_summary_view(view.id)
    assert task.status in ("pending", "running", "success") and task.view_id == view.id

    async def finished() -> object:
        polled = await ams.get_task(task.id)
        assert polled is not None
        return polled if polled.status in ("success", "failed") else None

    done = await wait_until(finished, timeout=20)
    assert done.status == "success", done  # type: ignore[attr-defined]
    assert done.started_at and done.completed_at  # type: ignore[attr-defined]
    listed = await ams.list_summary_view_partitions(view.id)
    assert [(p.group, p.memory_count) for p in listed] == [
        ({"user_id": "ana"}, 2),
        ({"user_id": "bo"}, 1),
    ]
    bo = await ams.list_summary_view_partitions(view.id, user_id="bo")
    assert len(bo) == 1 and "chess" in bo[0].summary and "tea" not in bo[0].summary

    assert (await ams.delete_summary_view(view.id)).status == "ok"
    assert await ams.get_summary_view(view.id) is None
    assert await ams.list_summary_views() == []


async def test_unknown_ids_and_bad_views_are_refused(ams: MemoryAPIClient) -> None:
    """Unknown view and task ids read as None (404); unsupported views are refused (400)."""
    assert await ams.get_summary_view("nope") is None
    assert await ams.get_task("nope") is None
    with pytest.raises(MemoryClientError, match="group_by"):
        await ams.create_summary_view(
            CreateSummaryViewRequest(source="long_term", group_by=["topics"])
        )
    with pytest.raises(MemoryClientError, match="long_term"):
        await ams.create_summary_view(
            CreateSummaryViewRequest(source="working_memory", group_by=["user_id"])
        )
    with pytest.raises(MemoryClientError, match="not found"):
        await ams.run_summary_view("nope")
    view = await ams.create_summary_view(
        CreateSummaryViewRequest(source="long_term", group_by=["user_id"])
    )
    with pytest.raises(MemoryClientError, match="group keys"):
        await ams.run_summary_view_partition(view.id, {"namespace": "x"})
