"""The MCP server driven by the MCP SDK's own client: over stdio (a `remem mcp` subprocess) and
over streamable HTTP (the app served by uvicorn, at /mcp and /{namespace}/mcp). Every tool
round-trips real data; bad input and unknown ids come back as tool errors with the reason."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from remem.app import build_app
from remem.config import Settings
from tests.serving import private_redis, served

TOOLS = {
    "get_current_datetime",
    "create_long_term_memories",
    "search_long_term_memory",
    "memory_prompt",
    "set_working_memory",
    "get_working_memory",
    "get_long_term_memory",
    "edit_long_term_memory",
    "delete_long_term_memories",
    "compact_long_term_memories",
}


def stdio(settings: Settings, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=shutil.which("remem") or "remem",
        args=["mcp", "--redis-url", settings.redis_url or ""],
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "REMEM_KEY_PREFIX": settings.key_prefix,
            "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
            "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
            **env,
        },
    )


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    """A tool's answer as JSON; a tool error fails the test with its text."""
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, f"{tool}: {text}"
    return json.loads(text)


async def error_of(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed: {result.content}"
    return str(result.content[0].text)  # type: ignore[union-attr]


async def round_trip(client: Client, namespace: str | None) -> None:
    """Every tool, on real data."""
    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    assert all(len(t.description or "") > 60 for t in tools.tools)  # written for an LLM reader
    now = await call(client, "get_current_datetime")
    assert now["iso_utc"].endswith("Z") and now["unix_ts"] > 1_700_000_000
    await call(
        client,
        "create_long_term_memories",
        memories=[
            {
                "id": "m-tea",
                "text": "Ada drinks green tea every morning",
                "user_id": "ada",
                "topics": ["drinks"],
            },
            {
                "id": "m-bike",
                "text": "Ada rides a red bicycle to work",
                "user_id": "ada",
                "memory_type": "episodic",
                "event_date": "2026-11-30T08:00:00Z",
            },
        ],
    )
    found = await call(
        client,
        "search_long_term_memory",
        text="what does Ada drink?",
        user_id={"eq": "ada"},
        limit=2,
    )
    assert found["memories"][0]["id"] == "m-tea" and found["total"] == 2
    assert found["memories"][0]["namespace"] == namespace
    one = await call(client, "get_long_term_memory", memory_id="m-bike")
    assert one["memory_type"] == "episodic" and one["event_date"].startswith("2026-11-30T08:00:00")
    edited = await call(
        client,
        "edit_long_term_memory",
        memory_id="m-tea",
        text="Ada drinks jasmine tea every morning",
        pinned=True,
    )
    assert edited["text"].startswith("Ada drinks jasmine") and edited["pinned"] is True
    stored = await call(
        client,
        "set_working_memory",
        session_id="chat-1",
        user_id="ada",
        messages=[
            {"role": "user", "content": "I love jasmine tea"},
            {"role": "assistant", "content": "Noted!"},
        ],
        context="Ada talks about tea.",
    )
    assert stored["namespace"] == namespace and len(stored["messages"]) == 2
    got = await call(client, "get_working_memory", session_id="chat-1", user_id="ada")
    assert [m["content"] for m in got["messages"]] == ["I love jasmine tea", "Noted!"]
    prompt = await call(
        client,
        "memory_prompt",
        query="what tea?",
        session_id={"eq": "chat-1"},
        user_id={"eq": "ada"},
    )
    roles = [m["role"] for m in prompt["messages"]]
    assert roles == ["system", "user", "assistant", "system", "user"]
    assert "(ID: m-tea)" in prompt["messages"][3]["content"]["text"]
    compacted = await call(client, "compact_long_term_memories", user_id="ada")
    assert compacted["status"] == "ok, 2 memories remaining after compaction"
    deleted = await call(client, "delete_long_term_memories", memory_ids=["m-bike", "nope"])
    assert deleted["status"] == "ok, deleted 1 memories"
    assert "not found" in await error_of(client, "get_long_term_memory", memory_id="m-bike")
    assert "limit" in await error_of(client, "search_long_term_memory", text="x", limit=0)
    assert "not found" in await error_of(client, "get_working_memory", session_id="nobody")
    bad = await error_of(client, "create_long_term_memories", memories=[{"text": " "}])
    assert "empty" in bad


async def test_every_tool_over_stdio(settings: Settings) -> None:
    async with Client(stdio(settings, REMEM_MCP_DEFAULT_NAMESPACE="desk")) as client:
        await round_trip(client, "desk")


@pytest.fixture
async def url(settings: Settings) -> AsyncIterator[str]:
    async with served(build_app(settings)) as base:
        yield base


async def test_every_tool_over_streamable_http(url: str) -> None:
    async with Client(f"{url}/mcp") as client:
        await round_trip(client, None)


async def test_the_search_tool_leaves_out_superseded_memories(url: str) -> None:
    async with Client(f"{url}/facts/mcp") as client:
        old = {"id": "m-paris", "text": "Ada lives in Paris", "valid_at": "2024-01-01T00:00:00Z"}
        new = {"id": "m-rome", "text": "Ada lives in Rome", "supersedes": ["m-paris"]}
        await call(client, "create_long_term_memories", memories=[old])
        await call(client, "create_long_term_memories", memories=[new])
        found = await call(client, "search_long_term_memory", text="where does Ada live?")
        assert [m["id"] for m in found["memories"]] == ["m-rome"]
        kept = await call(client, "get_long_term_memory", memory_id="m-paris")
        assert kept["superseded_by"] == ["m-rome"] and kept["invalid_at"] is not None


async def test_the_namespace_in_the_url_scopes_the_tools(url: str) -> None:
    async with Client(f"{url}/team-a/mcp") as a, Client(f"{url}/team-b/mcp") as b:
        await call(a, "create_long_term_memories", memories=[{"text": "Team A ships on Fridays"}])
        await call(b, "create_long_term_memories", memories=[{"text": "Team B ships on Mondays"}])
        seen_a = await call(a, "search_long_term_memory", text="when do we ship?")
        assert [m["text"] for m in seen_a["memories"]] == ["Team A ships on Fridays"]
        assert seen_a["memories"][0]["namespace"] == "team-a"
        session = await call(b, "set_working_memory", session_id="s", messages=[])
        assert session["namespace"] == "team-b"


def readme_snippet(marker: str) -> dict[str, Any]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split(f"<!-- {marker} -->\n```json\n", 1)[1].split("```", 1)[0]
    server: dict[str, Any] = json.loads(block)["mcpServers"]["remem"]
    return server


async def test_the_readme_stdio_configuration_starts_the_server(settings: Settings) -> None:
    config = readme_snippet("mcp-stdio")
    params = stdio(settings, **config["env"])
    params.command, params.args = config["command"], [*config["args"], *params.args[1:]]
    async with Client(params) as client:
        created = await call(client, "create_long_term_memories", memories=[{"text": "hello"}])
        assert created == {"status": "ok"}
        found = await call(client, "search_long_term_memory", text="hello")
        assert found["memories"][0]["namespace"] == config["env"]["REMEM_MCP_DEFAULT_NAMESPACE"]


async def test_the_readme_http_configuration_connects(url: str) -> None:
    configured = readme_snippet("mcp-http")["url"]
    assert configured == "http://127.0.0.1:8000/mcp"
    async with Client(configured.replace("http://127.0.0.1:8000", url)) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS


async def test_an_unavailable_redis_is_a_tool_error_and_the_server_stays_up(
    settings: Settings, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as (redis_url, proc):
        params = stdio(settings.model_copy(update={"redis_url": redis_url}))
        async with Client(params) as client:
            await call(client, "create_long_term_memories", memories=[{"text": "kept"}])
            proc.kill()
            proc.wait(10)
            failed = await error_of(client, "search_long_term_memory", text="kept")
            assert "unavailable" in failed.lower() or "redis" in failed.lower(), failed
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
