"""Every HTTP answer carries an `X-Request-ID`: the request's own when it is sane, else a new
one; REST, MCP and the middlewares' refusals alike."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from remem.api.requestid import RequestId
from remem.app import build_app
from remem.config import Settings
from remem.logs import request_id

NEW_ID = re.compile(r"[0-9a-f]{32}")


async def test_a_sane_request_id_is_answered_as_given(client: httpx.AsyncClient) -> None:
    for given in ["abc-123", "req.2026-12-05T22:00:00Z:0_1", "x" * 128]:
        r = await client.get("/v1/health", headers={"X-Request-ID": given})
        assert r.status_code == 200 and r.headers["x-request-id"] == given


async def test_a_request_without_one_gets_a_new_id(client: httpx.AsyncClient) -> None:
    first = (await client.get("/v1/health")).headers["x-request-id"]
    second = (await client.get("/v1/working-memory/missing")).headers["x-request-id"]  # a 404
    assert NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second) and first != second


@pytest.mark.parametrize(
    "given",
    [b"forged\nINFO remem.api: all is well", b"x" * 129, b"x" * 500, b"a b", b"caf\xc3\xa9",
     b"<script>", b"", b"id;drop"],
)  # fmt: skip
async def test_an_insane_request_id_is_replaced(given: bytes) -> None:
    """Checked at the ASGI level: an HTTP client would refuse to send some of these."""
    seen: list[str | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(request_id.get())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", given)]}
    await RequestId(app)(scope, receive, send)
    answered = dict(sent[0]["headers"])
    assert NEW_ID.fullmatch(answered[b"x-request-id"].decode())
    assert seen == [answered[b"x-request-id"].decode()]  # the id the request's logs carry
    assert request_id.get() is None  # and only while it is served


async def test_refusals_and_the_mcp_transport_answer_it_too(settings: Settings) -> None:
    app = build_app(settings.model_copy(update={"auth_mode": "token"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            headers = {"X-Request-ID": "r-401"}
            refused = await http.get("/v1/working-memory/", headers=headers)
            assert refused.status_code == 401 and refused.headers["x-request-id"] == "r-401"
            mcp = await http.post("/mcp", json={}, headers={"X-Request-ID": "r-mcp"})
            assert mcp.status_code == 401 and mcp.headers["x-request-id"] == "r-mcp"
            assert "jsonrpc" in mcp.json()  # rewritten by JsonRpcErrors, the id kept
