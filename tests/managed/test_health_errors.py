"""The managed API's health checks and its error body, as the SDK reads them."""

from __future__ import annotations

import httpx
import pytest
from redis_agent_memory import AgentMemory, errors

from tests.managed.conftest import Both


async def test_health_answers_healthy(both: Both) -> None:
    assert (await both.sdk.health_async()).status == "healthy"


async def test_store_health_names_its_features(both: Both) -> None:
    health = await both.sdk.store_health_async()
    assert health.status == "healthy"
    assert {f.status for f in health.features.values()} == {"healthy"}
    assert "sessionMemory" in health.features


async def test_a_missing_session_is_the_sdks_typed_404(both: Both) -> None:
    with pytest.raises(errors.NotFoundErrorResponseContent) as caught:
        await both.sdk.get_session_memory_async(session_id="nobody-here")
    assert caught.value.data.type == "/errors/resource-not-found"
    assert caught.value.data.status == 404 and "nobody-here" in (caught.value.data.detail or "")


async def test_invalid_input_is_a_400_naming_each_field(both: Both) -> None:
    async with httpx.AsyncClient(base_url=both.url) as http:
        r = await http.post(
            "/v1/stores/s/session-memory/events",
            json={
                "actorId": "",
                "role": "ROBOT",
                "content": [],
                "createdAt": "2026-01-01T00:00:00Z",
            },
        )
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["type"] == "/errors/invalid-data" and body["title"] and body["status"] == 400
    assert {f["field"] for f in body["fields"]} == {"actorId", "role", "content"}
    assert all(f["rule"] and f["message"] for f in body["fields"])


async def test_the_sdk_reads_a_400_with_its_fields(both: Both) -> None:
    with pytest.raises(errors.BadRequestErrorResponseContent) as caught:
        await both.sdk.list_sessions_async()  # neither filterOwnerId nor includeAll
    assert caught.value.data.status == 400 and "includeAll" in (caught.value.data.detail or "")
    assert caught.value.data.fields == []


async def test_malformed_json_is_a_400_on_the_managed_paths_only(both: Both) -> None:
    async with httpx.AsyncClient(base_url=both.url) as http:
        managed = await http.post(
            "/v1/stores/s/session-memory/events",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        ams = await http.post(
            "/v1/working-memory/x/messages",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert managed.status_code == 400 and managed.json()["type"] == "/errors/invalid-data"
    assert ams.status_code == 422 and isinstance(ams.json()["detail"], list)


async def test_the_upstream_api_keeps_its_own_error_body(both: Both) -> None:
    async with httpx.AsyncClient(base_url=both.url) as http:
        r = await http.get("/v1/working-memory/nobody-here", params={"namespace": "s"})
    assert r.status_code == 404 and r.json()["code"] == "not_found" and "type" not in r.json()


async def test_an_sdk_without_a_store_is_told_to_set_one(
    both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK sends a literal ``{storeId}`` when no store is configured: a 400 saying so,
    not a store of that name."""
    monkeypatch.delenv("AGENT_MEMORY_STORE_ID", raising=False)
    async with AgentMemory(server_url=both.url) as unset:
        with pytest.raises(errors.BadRequestErrorResponseContent) as caught:
            await unset.list_sessions_async(include_all=True)
    assert "store_id" in (caught.value.data.detail or "")
