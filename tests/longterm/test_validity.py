"""Facts that change, over HTTP (the real app, the bundled model, the embedded Redis): a memory
superseded by a newer version leaves default searches, stays in its history and in searches as
of a date before the change, and is never deleted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from ulid import ULID

LTM = "/v1/long-term-memory"
NS = "validity"


def memory(text: str, valid_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(ULID()),
        "text": text,
        "namespace": NS,
        "user_id": "ann",
        "valid_at": valid_at,
        **extra,
    }


async def create(client: httpx.AsyncClient, *memories: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.post(f"{LTM}/?detail=true", json={"memories": list(memories)})
    assert r.status_code == 200, r.text
    outcomes: list[dict[str, Any]] = r.json()["memories"]
    return outcomes


async def search(client: httpx.AsyncClient, text: str, **extra: Any) -> list[dict[str, Any]]:
    body = {"text": text, "namespace": {"eq": NS}, "limit": 10, **extra}
    r = await client.post(f"{LTM}/search", json=body)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["memories"]
    return found


async def test_a_superseded_memory_leaves_search_and_stays_in_history(
    client: httpx.AsyncClient,
) -> None:
    a = memory("Ann lives in Paris", "2024-01-10T00:00:00Z")
    await create(client, a)
    b = memory("Ann lives in Berlin", "2024-06-01T00:00:00Z", supersedes=[a["id"]])
    [done] = await create(client, b)
    assert done == {
        "id": b["id"],
        "outcome": "added",
        "memory_id": b["id"],
        "supersedes": [a["id"]],
        "superseded_by": [],
        "similar": [],
    }

    now = await search(client, "where does Ann live")
    assert [m["id"] for m in now] == [b["id"]]
    assert now[0]["valid_at"].startswith("2024-06-01") and now[0]["invalid_at"] is None

    then = await search(client, "where does Ann live", as_of="2024-03-01T00:00:00Z")
    assert [m["id"] for m in then] == [a["id"]]

    both = {m["id"]: m for m in await search(client, "Ann live", include_superseded=True)}
    assert set(both) == {a["id"], b["id"]}
    assert both[a["id"]]["invalid_at"].startswith("2024-06-01")
    assert both[a["id"]]["superseded_by"] == [b["id"]]
    assert both[b["id"]]["supersedes"] == [a["id"]]

    r = await client.get(f"{LTM}/{b['id']}/history")
    assert r.status_code == 200, r.text
    assert [v["id"] for v in r.json()["versions"]] == [a["id"], b["id"]]
    r = await client.get(f"{LTM}/{a['id']}/history")
    assert [v["id"] for v in r.json()["versions"]] == [a["id"], b["id"]]
    assert (await client.get(f"{LTM}/{a['id']}")).status_code == 200  # kept, not deleted


async def test_two_concurrent_supersedes_of_one_memory_both_land(
    client: httpx.AsyncClient,
) -> None:
    a = memory("Ann's plan is the basic plan", "2024-01-01T00:00:00Z")
    await create(client, a)
    b = memory("Ann's plan is the pro plan", "2024-05-01T00:00:00Z", supersedes=[a["id"]])
    c = memory("Ann's plan is the team plan", "2024-04-01T00:00:00Z", supersedes=[a["id"]])
    await asyncio.gather(create(client, b), create(client, c))
    stored = (await client.get(f"{LTM}/{a['id']}")).json()
    assert sorted(stored["superseded_by"]) == sorted([b["id"], c["id"]])
    assert stored["invalid_at"].startswith("2024-04-01")  # the earlier of the two
    history = (await client.get(f"{LTM}/{a['id']}/history")).json()["versions"]
    assert [v["id"] for v in history] == [a["id"], c["id"], b["id"]]


async def test_superseding_another_tenants_memory_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    theirs = {**memory("Bob lives in Rome", "2024-01-01T00:00:00Z"), "user_id": "bob"}
    await create(client, theirs)
    mine = memory("Ann lives in Oslo", "2024-02-01T00:00:00Z", supersedes=[theirs["id"]])
    r = await client.post(f"{LTM}/", json={"memories": [mine]})
    assert r.status_code == 404, r.text
    assert theirs["id"] in r.json()["detail"]
    assert (await client.get(f"{LTM}/{mine['id']}")).status_code == 404  # nothing written
    stored = (await client.get(f"{LTM}/{theirs['id']}")).json()
    assert stored["invalid_at"] is None and stored["superseded_by"] is None
    missing = memory("Ann lives in Lima", "2024-02-01T00:00:00Z", supersedes=["no-such-id"])
    assert (await client.post(f"{LTM}/", json={"memories": [missing]})).status_code == 404


async def test_a_version_cannot_supersede_a_later_one(client: httpx.AsyncClient) -> None:
    a = memory("Ann works at Acme", "2024-06-01T00:00:00Z")
    await create(client, a)
    b = memory("Ann works at Initech", "2024-01-01T00:00:00Z", supersedes=[a["id"]])
    r = await client.post(f"{LTM}/", json={"memories": [b]})
    assert r.status_code == 400 and "later" in r.json()["detail"]


async def test_valid_at_defaults_to_event_date_then_created_at(client: httpx.AsyncClient) -> None:
    dated = {"id": str(ULID()), "text": "Ann ran a marathon", "namespace": NS}
    dated["event_date"] = "2023-10-01T09:00:00Z"
    plain = {"id": str(ULID()), "text": "Ann likes figs", "namespace": NS}
    await create(client, dated, plain)
    got = (await client.get(f"{LTM}/{dated['id']}")).json()
    assert got["valid_at"].startswith("2023-10-01T09:00:00")
    got = (await client.get(f"{LTM}/{plain['id']}")).json()
    assert got["valid_at"] == got["created_at"]


async def test_as_of_and_include_superseded_together_are_a_422(client: httpx.AsyncClient) -> None:
    body = {"text": "x", "as_of": "2024-01-01T00:00:00Z", "include_superseded": True}
    assert (await client.post(f"{LTM}/search", json=body)).status_code == 422


async def test_a_merged_id_says_where_it_went(client: httpx.AsyncClient) -> None:
    first = {"id": str(ULID()), "text": "Ann's cat is called Miso", "namespace": NS}
    again = {"id": str(ULID()), "text": "ann's cat is called miso.", "namespace": NS}
    await create(client, first)
    [done] = await create(client, again)
    assert done["outcome"] == "merged" and done["memory_id"] == first["id"]
    r = await client.get(f"{LTM}/{again['id']}")
    assert r.status_code == 404
    assert r.json()["code"] == "merged" and r.json()["merged_into"] == first["id"]
    r = await client.get(f"{LTM}/never-stored")
    assert r.status_code == 404 and "merged_into" not in r.json()


async def test_the_default_answer_stays_the_upstream_one(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{LTM}/", json={"memories": [memory("Ann hums", "2024-01-01")]})
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_forgetting_keeps_a_chain_of_versions(client: httpx.AsyncClient) -> None:
    old = memory("Ann drives a Fiat", "2020-01-01T00:00:00Z", created_at="2020-01-01T00:00:00Z")
    await create(client, old)
    new = memory("Ann drives a Volvo", "2021-01-01T00:00:00Z", supersedes=[old["id"]])
    new["created_at"] = "2021-01-01T00:00:00Z"
    alone = memory("Ann owned a bike", "2020-01-01T00:00:00Z", created_at="2020-01-01T00:00:00Z")
    await create(client, new, alone)
    r = await client.post(f"{LTM}/forget?namespace={NS}", json={"policy": {"max_age_days": 30}})
    assert r.status_code == 200, r.text
    gone = set(r.json()["deleted_ids"])
    assert alone["id"] in gone and not gone & {old["id"], new["id"]}
    history = (await client.get(f"{LTM}/{new['id']}/history")).json()["versions"]
    assert [v["id"] for v in history] == [old["id"], new["id"]]


async def test_the_memory_prompt_sees_only_what_is_true(client: httpx.AsyncClient) -> None:
    a = memory("Ann's phone number ends in 4411", "2024-01-01T00:00:00Z")
    await create(client, a)
    b = memory("Ann's phone number ends in 9020", "2024-03-01T00:00:00Z", supersedes=[a["id"]])
    await create(client, b)
    body = {"query": "Ann's phone number", "long_term_search": {"namespace": {"eq": NS}}}
    r = await client.post("/v1/memory/prompt", json=body)
    assert r.status_code == 200, r.text
    said = json.dumps(r.json())
    assert "9020" in said and "4411" not in said


async def test_patch_moves_validity(client: httpx.AsyncClient) -> None:
    a = memory("Ann's gym is downtown", "2024-01-01T00:00:00Z")
    await create(client, a)
    r = await client.patch(f"{LTM}/{a['id']}", json={"invalid_at": "2024-02-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.json()["invalid_at"].startswith("2024-02-01")
    assert a["id"] not in [m["id"] for m in await search(client, "Ann's gym")]
    r = await client.patch(f"{LTM}/{a['id']}", json={"invalid_at": None})
    assert r.json()["invalid_at"] is None
    assert a["id"] in [m["id"] for m in await search(client, "Ann's gym")]


async def test_a_memory_written_again_keeps_its_history(client: httpx.AsyncClient) -> None:
    """The official client re-sends a record it read without the validity fields: the stored
    memory's place in its chain of versions stays."""
    a = memory("Ann's bike is red", "2024-01-01T00:00:00Z")
    await create(client, a)
    b = memory("Ann's bike is blue", "2024-05-01T00:00:00Z", supersedes=[a["id"]])
    await create(client, b)
    again = {"id": a["id"], "text": "Ann's bike is red!", "namespace": NS, "user_id": "ann"}
    await create(client, again)
    stored = (await client.get(f"{LTM}/{a['id']}")).json()
    assert stored["text"] == "Ann's bike is red!"
    assert stored["superseded_by"] == [b["id"]] and stored["invalid_at"].startswith("2024-05")
    assert stored["valid_at"].startswith("2024-01-01")
