"""An unexpected error answers a clean 500 and keeps the connection."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import served


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on an open connection: (status, body)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: remem\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode().split("\r\n")
    length = next(int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length"))
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def test_unexpected_error_is_a_clean_500_on_a_kept_connection(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom)
    async with served(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            with caplog.at_level(logging.ERROR, logger="remem.api"):
                status, body = await _exchange(reader, writer, "/boom")
            assert status == 500
            answer = json.loads(body)
            assert answer["code"] == "internal_error"
            assert answer["error_id"] in answer["detail"]
            assert "secret internals" not in body.decode()  # the traceback is for the log only
            logged = [r for r in caplog.records if answer["error_id"] in r.getMessage()]
            assert (
                logged and logged[0].exc_info and "secret internals" in str(logged[0].exc_info[1])
            )
            # The same connection answers the next request.
            status, _ = await _exchange(reader, writer, "/v1/health")
            assert status == 200
        finally:
            writer.close()
