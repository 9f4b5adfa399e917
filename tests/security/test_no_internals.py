"""No internal error text in answers: a server fault says what failed, never the address of
Redis, a URL of a provider or a path on the server; the log keeps them under an error id."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from remem.app import build_app
from remem.config import Settings
from remem.errors import BackendUnavailable, InvalidInput, LLMUnavailable, redact
from tests.serving import private_redis, served


async def test_redis_gone_is_a_503_without_its_address_over_rest_and_mcp(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with private_redis(tmp_path) as (url, proc):
        port = url.rsplit(":", 1)[1]
        app = build_app(Settings(redis_url=url, redis_timeout_seconds=1.0))
        async with (
            served(app) as base,
            httpx.AsyncClient(base_url=base) as http,
            Client(f"{base}/mcp") as mcp,
        ):
            proc.kill()
            proc.wait(10)
            answers = [
                await http.get("/v1/working-memory/s"),
                await http.post("/v1/long-term-memory/search", json={"text": "x"}),
                await http.post("/v1/erasures", json={"user_id": "u"}),
                await http.get("/v1/health"),
            ]
            tool = await mcp.call_tool("get_long_term_memory", {"memory_id": "m"})
        for r in answers:
            assert r.status_code == 503, r.text
            body = r.json()
            assert "Redis unavailable" in body["detail"] and body["error_id"]
            assert "127.0.0.1" not in r.text and port not in r.text
            assert body["error_id"] in caplog.text  # the full detail is logged under it
        assert tool.is_error
        text = tool.content[0].text  # type: ignore[union-attr]
        assert "Redis unavailable" in text and "127.0.0.1" not in text and port not in text


@pytest.mark.parametrize(
    ("detail", "gone"),
    [
        ("Error 111 connecting to 127.0.0.1:6379. Connection refused.", "127.0.0.1"),
        ("Error 2 connecting to /var/lib/remem/redis/redis.sock.", "/var/lib"),
        ("the LLM at http://10.1.2.3:11434/v1 timed out", "10.1.2.3"),
        ("Timeout connecting to redis-primary.internal:6380", "redis-primary"),
        ("Connect call failed ('10.0.0.9', 6379).", "6379"),
        ("embedding failed at C:\\models\\m.onnx", "models"),
    ],
)
def test_a_server_faults_public_detail_has_no_addresses_or_paths(detail: str, gone: str) -> None:
    for error in (BackendUnavailable(detail), LLMUnavailable(detail)):
        assert gone not in error.public_detail
        assert error.public_detail.split()[0] == detail.split()[0]  # what failed stays
    assert gone not in redact(detail)
    assert InvalidInput(detail).public_detail == detail  # a refusal's reason is the client's
