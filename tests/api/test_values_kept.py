"""Values are kept exactly as given or refused with the reason: topics and entities are no
longer rewritten (``a\\nb`` -> ``a b``, edge spaces trimmed, empties dropped) into values the
client cannot find them by, and ``""`` is no longer taken for "no namespace"."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import assert_4xx_with_reason

LTM = "/v1/long-term-memory"
WM = "/v1/working-memory"


@pytest.mark.parametrize("field", ["topics", "entities"])
@pytest.mark.parametrize(
    "value", ["a\nb", "a\tb", " edge", "edge ", "", "   ", "x" * 4097], ids=lambda v: repr(v)[:12]
)
async def test_a_tag_that_cannot_round_trip_is_refused(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    memory = {"id": "m", "text": "a memory", field: ["fine", value]}
    r = await client.post(f"{LTM}/", json={"memories": [memory]})
    assert_4xx_with_reason(r, 400)
    assert f"{field}[1]" in r.json()["detail"]
    assert (await client.get(f"{LTM}/m")).status_code == 404
    r = await client.post(f"{LTM}/", json={"memories": [{"id": "m", "text": "a memory"}]})
    assert r.status_code == 200
    assert_4xx_with_reason(await client.patch(f"{LTM}/m", json={field: [value]}), 400)
    assert (await client.get(f"{LTM}/m")).json()[field] is None


@pytest.mark.parametrize("value", ["x" * 4096, "ü" * 2048, "a b", "日本語"], ids=lambda v: v[:8])
async def test_tags_up_to_4096_bytes_are_kept_and_found(
    client: httpx.AsyncClient, value: str
) -> None:
    memory = {"id": "m", "text": "a memory", "topics": [value], "entities": [value]}
    assert (await client.post(f"{LTM}/", json={"memories": [memory]})).status_code == 200
    assert (await client.get(f"{LTM}/m")).json()["topics"] == [value]
    for field in ("topics", "entities"):
        found = await client.post(f"{LTM}/search", json={"text": "x", field: {"eq": value}})
        assert found.json()["total"] == 1, field


@pytest.mark.parametrize("value", ["ü" * 2049, "x" * 4097], ids=["2049-umlauts", "4097-x"])
async def test_an_id_over_4096_bytes_is_refused(client: httpx.AsyncClient, value: str) -> None:
    """2,100 two-byte characters were stored but no filter found them."""
    memory = {"id": "m", "text": "a memory", "namespace": value}
    assert_4xx_with_reason(await client.post(f"{LTM}/", json={"memories": [memory]}), 400)
    assert_4xx_with_reason(await client.put(f"{WM}/s", json={"namespace": value}), 400)


@pytest.mark.parametrize("field", ["namespace", "user_id", "session_id"])
async def test_an_empty_scope_is_refused_not_stored_as_none(
    client: httpx.AsyncClient, field: str
) -> None:
    memory = {"id": "m", "text": "a memory", field: ""}
    r = await client.post(f"{LTM}/", json={"memories": [memory]})
    assert_4xx_with_reason(r, 400)
    assert field in r.json()["detail"]
    r = await client.post(f"{LTM}/", json={"memories": [{"id": "m", "text": "a memory"}]})
    assert r.status_code == 200
    assert_4xx_with_reason(await client.patch(f"{LTM}/m", json={field: ""}), 400)
    assert (await client.patch(f"{LTM}/m", json={field: None})).status_code == 200


@pytest.mark.parametrize("field", ["namespace", "user_id"])
async def test_an_empty_session_scope_is_refused(client: httpx.AsyncClient, field: str) -> None:
    assert_4xx_with_reason(await client.put(f"{WM}/s", json={field: ""}), 400)
    assert_4xx_with_reason(await client.put(f"{WM}/s", params={"user_id": ""}, json={}), 400)
    append = {"messages": [{"role": "user", "content": "hi"}], field: ""}
    assert_4xx_with_reason(await client.post(f"{WM}/s/messages", json=append), 400)
    r = await client.post(
        f"{WM}/s/messages", params={field: ""}, json={"messages": append["messages"]}
    )
    assert_4xx_with_reason(r, 400)
    assert (await client.get(f"{WM}/s")).status_code == 404


async def test_an_empty_namespace_does_not_list_every_session(
    client: httpx.AsyncClient,
) -> None:
    """``?namespace=`` listed the sessions of every namespace."""
    assert (await client.put(f"{WM}/s", json={"namespace": "a"})).status_code == 200
    for query in ("namespace=", "user_id="):
        assert_4xx_with_reason(await client.get(f"{WM}/?{query}"), 400)
        assert_4xx_with_reason(await client.get(f"{WM}/s?{query}"), 400)
        assert_4xx_with_reason(await client.delete(f"{WM}/s?{query}"), 400)
    assert (await client.get(f"{WM}/", params={"namespace": "a"})).json()["total"] == 1
