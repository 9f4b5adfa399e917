"""The MCP transport over HTTP answers at once, and its refusals reach the MCP SDK's own client
with their reason: a GET is a 405 (it used to open an event stream that never ended), a 401
says what is wrong with the credentials (the client used to see only "-32603 Server returned
an error response"), a URL naming a namespace outside the token's scope is refused when the
client connects (it used to connect, then fail every tool call), and what the app's
middlewares refuse in front of the transport (a body nested too deep) says why too."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.shared.exceptions import MCPError

from remem.app import build_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.serving import served

ACCEPT = {"Accept": "application/json, text/event-stream"}


def client(url: str, token: str | None) -> Client:
    """The SDK's client over streamable HTTP, sending ``token`` as a bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


async def refusal(url: str, token: str | None) -> MCPError:
    """The error the SDK's client raises when it connects to ``url`` with ``token`` (within
    the exception group of its task group)."""
    raised: list[MCPError] = []
    try:
        async with client(url, token) as session:
            await session.list_tools()
    except* MCPError as group:
        while isinstance(group, BaseExceptionGroup):
            group = group.exceptions[0]
        raised.append(group)
    assert raised, f"{url} served a client with {token}"
    return raised[0]


@pytest.fixture
def token_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_mode": "token"})


@pytest.fixture
async def url(token_settings: Settings) -> AsyncIterator[str]:
    async with served(build_app(token_settings)) as base:
        yield base


async def make_token(settings: Settings, *namespaces: str, expires: float | None = None) -> str:
    redis = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(redis, Keys(settings.key_prefix))
        token, _ = await store.create(list(namespaces), role="write", expires_in_seconds=expires)
    finally:
        await redis.aclose()
    return token


@pytest.mark.parametrize("path", ["/mcp", "/team/mcp"])
async def test_a_get_is_refused_at_once_with_a_reason(settings: Settings, path: str) -> None:
    async with served(build_app(settings)) as base, httpx.AsyncClient(base_url=base) as http:
        answer = await asyncio.wait_for(http.get(path, headers=ACCEPT), 5)
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    body = answer.json()
    assert body["jsonrpc"] == "2.0" and "POST each JSON-RPC message" in body["error"]["message"]
    assert body["detail"] == body["error"]["message"]


async def test_a_401_reaches_the_client_with_its_reason(token_settings: Settings, url: str) -> None:
    missing = await refusal(f"{url}/mcp", None)
    assert "missing credentials" in missing.error.message, missing.error
    assert missing.error.data == {"status": 401, "code": "unauthenticated"}
    unknown = await refusal(f"{url}/mcp", "rmm_0123456789ab_" + "x" * 43)
    assert "unknown token 0123456789ab" in unknown.error.message
    expired = await make_token(token_settings, "team", expires=0.05)
    await asyncio.sleep(0.2)
    assert "expired" in (await refusal(f"{url}/team/mcp", expired)).error.message


async def test_a_namespace_outside_the_token_s_scope_is_refused_at_connection(
    token_settings: Settings, url: str
) -> None:
    token = await make_token(token_settings, "team-a")
    error = await refusal(f"{url}/team-b/mcp", token)
    assert error.error.message == "namespace 'team-b' is outside this caller's scope"
    assert error.error.data == {"status": 403, "code": "forbidden"}
    async with httpx.AsyncClient(base_url=url) as http:
        raw = await http.post("/team-b/mcp", json={}, headers=auth(token))
    assert raw.status_code == 403 and raw.json()["code"] == "forbidden"
    async with client(f"{url}/team-a/mcp", token) as session:  # its own namespace: served
        result = await session.call_tool("create_long_term_memories", {"memories": [MEMORY]})
        assert not result.is_error, result.content


MEMORY = {"text": "Team A ships on Fridays"}


def auth(token: str) -> dict[str, str]:
    return {**ACCEPT, "Authorization": f"Bearer {token}"}


async def test_what_the_app_refuses_in_front_of_the_transport_says_why(
    token_settings: Settings, url: str
) -> None:
    token = await make_token(token_settings, "team")
    deep: Any = "x"
    for _ in range(150):
        deep = {"a": deep}
    async with client(f"{url}/team/mcp", token) as session:
        with pytest.raises(MCPError) as raised:
            await session.call_tool("create_long_term_memories", {"memories": [{"text": deep}]})
    assert "nested more than 64 deep" in raised.value.error.message
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}
    body = json.dumps(call).replace('"x"', '"\\ud800"').encode()
    async with httpx.AsyncClient(base_url=url) as http:
        raw = await http.post("/team/mcp", content=body, headers={**auth(token), **JSON})
    assert raw.status_code == 422 and raw.json()["jsonrpc"] == "2.0"
    assert "lone UTF-16 surrogate" in raw.json()["error"]["message"]


JSON = {"Content-Type": "application/json"}


async def test_an_unknown_namespace_of_the_admin_still_opens(settings: Settings) -> None:
    """Auth off: the local admin's scope covers every namespace, one never written included."""
    async with served(build_app(settings)) as base, Client(f"{base}/n-{uuid.uuid4().hex}/mcp") as c:
        assert len((await c.list_tools()).tools) >= 10
