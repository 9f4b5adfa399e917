"""The leak suite for the managed API's routes (``/v1/stores/{storeId}/...``): a store is a
namespace, so a token reaches only the stores its scope covers, with the roles it has. Same
tenants, seed and checks as ``test_leaks.py`` (every answer scanned for the others' words, every
write checked to leave the victims' data as it was); ``test_coverage.py`` fails when a managed
route has no case in ``MANAGED``."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest

from tests.auth.test_leaks import (  # noqa: F401 - the module's fixtures
    NS_A,
    NS_XYLO,
    Case,
    World,
    leak_settings,
    memories_untouched,
    untouched,
    world,
)

MANAGED: dict[str, Case] = {}
A = f"/v1/stores/{quote(NS_A)}"
XYLO = f"/v1/stores/{quote(NS_XYLO)}"  # outside A's scope and B's prefix alike
EVENT = {
    "actorId": "alice",
    "role": "USER",
    "content": [{"text": "ALPHA event"}],
    "createdAt": "2026-01-01T00:00:00Z",
}


def managed(*routes: str) -> Callable[[Case], Case]:
    def register(case: Case) -> Case:
        for route in routes:
            MANAGED[route] = case
        return case

    return register


@managed("GET /v1/stores/{storeId}/health")
async def store_health_only_of_the_callers_stores(w: World) -> None:
    h = w.http
    assert (await h.ok("tok-a", "GET", f"{A}/health"))["status"] == "healthy"
    assert (await h.ok("tok-ro", "GET", f"{A}/health"))["status"] == "healthy"
    await h.refused(403, "tok-a", "GET", f"{XYLO}/health")
    await h.refused(403, "tok-b", "GET", f"{A}/health")


@managed("GET /v1/stores/{storeId}/session-memory")
async def list_sessions_of_the_callers_stores_only(w: World) -> None:
    h, path = w.http, f"{A}/session-memory"
    listed = await h.ok("tok-a", "GET", path, params={"includeAll": "true"})
    assert "shared" in listed["items"]
    assert (await h.ok("tok-a", "GET", path, params={"filterOwnerId": "bob"}))["items"] == []
    await h.refused(403, "tok-b", "GET", path, params={"includeAll": "true"})
    await h.refused(403, "tok-a", "GET", f"{XYLO}/session-memory", params={"includeAll": "true"})


@managed("POST /v1/stores/{storeId}/session-memory/events")
async def add_events_only_to_the_callers_stores_with_write(w: World) -> None:
    h = w.http
    await h.refused(403, "tok-ro", "POST", f"{A}/session-memory/events", json=EVENT)
    await h.refused(403, "tok-b", "POST", f"{A}/session-memory/events", json=EVENT)
    shared = EVENT | {"sessionId": "shared"}
    await h.refused(403, "tok-a", "POST", f"{XYLO}/session-memory/events", json=shared)
    await h.refused(403, "tok-b", "POST", f"{XYLO}/session-memory/events", json=shared)
    await untouched(h)
    r = await h.call("tok-a", "POST", f"{A}/session-memory/events", json=EVENT)
    assert r.status_code == 201, r.text
    made = r.json()["event"]
    got = await h.ok("tok-admin", "GET", f"/v1/working-memory/{made['sessionId']}")
    assert (got["namespace"], got["user_id"]) == (NS_A, "alice")


@managed("GET /v1/stores/{storeId}/session-memory/{sessionId}")
async def get_session_of_the_callers_stores_only(w: World) -> None:
    h = w.http
    got = await h.ok("tok-a", "GET", f"{A}/session-memory/shared")
    assert got["ownerId"] == "alice" and "ALPHA" in got["events"][0]["content"][0]["text"]
    await h.refused(403, "tok-a", "GET", f"{XYLO}/session-memory/shared")
    await h.refused(403, "tok-b", "GET", f"{A}/session-memory/shared")


@managed("DELETE /v1/stores/{storeId}/session-memory/{sessionId}")
async def delete_session_only_in_the_callers_stores_with_write(w: World) -> None:
    h = w.http
    await h.refused(403, "tok-ro", "DELETE", f"{A}/session-memory/shared")
    await h.refused(403, "tok-a", "DELETE", f"{XYLO}/session-memory/shared")
    await h.refused(403, "tok-b", "DELETE", f"{A}/session-memory/shared")
    await untouched(h)
    r = await h.call("tok-a", "POST", f"{A}/session-memory/events", json=EVENT)
    gone = r.json()["event"]["sessionId"]
    r = await h.call("tok-a", "DELETE", f"{A}/session-memory/{gone}")
    assert r.status_code == 204, r.text
    await h.refused(404, "tok-a", "GET", f"{A}/session-memory/{gone}")


@managed(
    "GET /v1/stores/{storeId}/session-memory/{sessionId}/events/{eventId}",
    "DELETE /v1/stores/{storeId}/session-memory/{sessionId}/events/{eventId}",
)
async def events_of_the_callers_stores_only(w: World) -> None:
    h = w.http
    first = (await h.ok("tok-admin", "GET", f"{A}/session-memory/shared"))["events"][0]
    path = f"{A}/session-memory/shared/events/{first['eventId']}"
    assert (await h.ok("tok-a", "GET", path))["event"]["eventId"] == first["eventId"]
    await h.refused(403, "tok-b", "GET", path)
    await h.refused(403, "tok-ro", "DELETE", path)
    await h.refused(403, "tok-b", "DELETE", path)
    xylo = f"{XYLO}/session-memory/shared/events/{first['eventId']}"
    await h.refused(403, "tok-a", "GET", xylo)
    await h.refused(403, "tok-a", "DELETE", xylo)
    await untouched(h)
    r = await h.call("tok-a", "POST", f"{A}/session-memory/events", json=EVENT)
    made = r.json()["event"]
    mine = f"{A}/session-memory/{made['sessionId']}/events/{made['eventId']}"
    assert (await h.call("tok-a", "DELETE", mine)).status_code == 204
    await h.refused(404, "tok-a", "GET", mine)


# -- long-term memory ----------------------------------------------------------------------
MEMORIES = "/v1/stores/{storeId}/long-term-memory"
OTHERS = ["m-b1", "m-c1", "m-x1", "m-n1"]  # every seeded memory outside A's namespace


@managed(f"POST {MEMORIES}")
async def create_memories_only_in_the_callers_stores_with_write(w: World) -> None:
    h, path = w.http, f"{A}/long-term-memory"
    body = {"memories": [{"id": "m-a-new", "text": "ALPHA new", "ownerId": "alice"}]}
    await h.refused(403, "tok-ro", "POST", path, json=body)
    await h.refused(403, "tok-b", "POST", path, json=body)
    await h.refused(403, "tok-a", "POST", f"{XYLO}/long-term-memory", json=body)
    taken = {"memories": [{"id": i, "text": "overwritten", "ownerId": "alice"} for i in OTHERS]}
    r = await h.call("tok-a", "POST", path, json=taken)
    assert r.status_code == 201 and r.json()["created"] == [], r.text
    assert sorted(e["id"] for e in r.json()["errors"]) == sorted(OTHERS)
    await memories_untouched(h)
    r = await h.call("tok-a", "POST", path, json=body)
    assert r.status_code == 201 and r.json()["created"] == ["m-a-new"], r.text


@managed(f"DELETE {MEMORIES}")
async def delete_memories_only_of_the_callers_stores(w: World) -> None:
    h, path = w.http, f"{A}/long-term-memory"
    await h.refused(403, "tok-ro", "DELETE", path, json={"memoryIds": ["m-a1"]})
    await h.refused(403, "tok-b", "DELETE", path, json={"memoryIds": ["m-a1"]})
    await h.refused(403, "tok-b", "DELETE", f"{XYLO}/long-term-memory", json={"memoryIds": OTHERS})
    done = await h.ok("tok-a", "DELETE", path, json={"memoryIds": OTHERS})
    assert done["deleted"] == [] and len(done["errors"]) == len(OTHERS)
    await memories_untouched(h)


@managed(f"POST {MEMORIES}/search")
async def search_never_leaves_the_callers_store(w: World) -> None:
    h, path = w.http, f"{A}/long-term-memory/search"
    for who in ("tok-a", "tok-ro"):
        found = await h.ok(who, "POST", path, json={"text": "green tea", "limit": 100})
        assert {m["id"] for m in found["items"]} >= {"m-a1", "m-a2"}
        wide = {"filter": {"ownerId": {"ne": "alice"}, "topics": {"ne": "x"}}, "filterOp": "any"}
        found = await h.ok(who, "POST", path, json=wide | {"limit": 100})
        assert all(m["id"].startswith("m-a") for m in found["items"])
    await h.refused(403, "tok-b", "POST", path, json={"text": "green tea"})
    await h.refused(403, "tok-a", "POST", f"{XYLO}/long-term-memory/search", json={})


@managed(f"GET {MEMORIES}/{{memoryId}}")
async def get_memory_of_another_store_is_not_found(w: World) -> None:
    h = w.http
    assert (await h.ok("tok-a", "GET", f"{A}/long-term-memory/m-a1"))["ownerId"] == "alice"
    for other in OTHERS:
        await h.refused(404, "tok-a", "GET", f"{A}/long-term-memory/{other}")
    await h.refused(403, "tok-b", "GET", f"{A}/long-term-memory/m-a1")
    await h.refused(403, "tok-a", "GET", f"{XYLO}/long-term-memory/m-x1")


@managed(f"PATCH {MEMORIES}/{{memoryId}}")
async def patch_memory_of_another_store_is_not_found_and_untouched(w: World) -> None:
    h = w.http
    change = {"text": "overwritten"}
    await h.refused(403, "tok-ro", "PATCH", f"{A}/long-term-memory/m-a1", json=change)
    await h.refused(403, "tok-b", "PATCH", f"{A}/long-term-memory/m-a1", json=change)
    await h.refused(403, "tok-a", "PATCH", f"{XYLO}/long-term-memory/m-x1", json=change)
    for other in OTHERS:
        await h.refused(404, "tok-a", "PATCH", f"{A}/long-term-memory/{other}", json=change)
    await memories_untouched(h)


@managed(f"PATCH {MEMORIES}/{{memoryId}}/fields")
async def patch_fields_of_another_store_is_not_found_and_untouched(w: World) -> None:
    h = w.http
    change = {"memoryType": "semantic", "text": "overwritten"}
    await h.refused(403, "tok-ro", "PATCH", f"{A}/long-term-memory/m-a1/fields", json=change)
    await h.refused(403, "tok-b", "PATCH", f"{A}/long-term-memory/m-a1/fields", json=change)
    await h.refused(403, "tok-a", "PATCH", f"{XYLO}/long-term-memory/m-x1/fields", json=change)
    for other in OTHERS:
        path = f"{A}/long-term-memory/{other}/fields"
        await h.refused(404, "tok-a", "PATCH", path, json=change)
    await memories_untouched(h)


# -- namespace resources -------------------------------------------------------------------
NAMESPACES = "/v1/stores/{storeId}/namespaces"


async def a_namespace(w: World, name: str) -> str:
    r = await w.http.call(
        "tok-a", "POST", f"{A}/namespaces", json={"name": name, "scope": "SHARED"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["namespace"]["namespaceId"])


@managed(f"GET {NAMESPACES}", f"POST {NAMESPACES}")
async def namespaces_of_the_callers_stores_only(w: World) -> None:
    h, body = w.http, {"name": "ALPHA-ns", "scope": "SHARED"}
    await h.refused(403, "tok-ro", "POST", f"{A}/namespaces", json=body)
    await h.refused(403, "tok-b", "POST", f"{A}/namespaces", json=body)
    await h.refused(403, "tok-a", "POST", f"{XYLO}/namespaces", json=body)
    made = await a_namespace(w, "ALPHA-listed")
    listed = await h.ok("tok-ro", "GET", f"{A}/namespaces")
    assert made in [n["namespaceId"] for n in listed["items"]]
    await h.refused(403, "tok-b", "GET", f"{A}/namespaces")
    await h.refused(403, "tok-a", "GET", f"{XYLO}/namespaces")
    admin = await h.ok("tok-admin", "GET", f"{XYLO}/namespaces")
    assert made not in [n["namespaceId"] for n in admin["items"]]


@managed(
    f"GET {NAMESPACES}/{{namespaceId}}",
    f"PATCH {NAMESPACES}/{{namespaceId}}",
    f"DELETE {NAMESPACES}/{{namespaceId}}",
)
async def one_namespace_of_the_callers_stores_only(w: World) -> None:
    h = w.http
    made = await a_namespace(w, "ALPHA-one")
    path = f"{A}/namespaces/{made}"
    assert (await h.ok("tok-ro", "GET", path))["namespace"]["name"] == "ALPHA-one"
    await h.refused(403, "tok-b", "GET", path)
    await h.refused(404, "tok-admin", "GET", f"{XYLO}/namespaces/{made}")  # another store's
    for who in ("tok-ro", "tok-b"):
        await h.refused(403, who, "PATCH", path, json={"name": "renamed"})
        await h.refused(403, who, "DELETE", path)
    await h.refused(404, "tok-admin", "PATCH", f"{XYLO}/namespaces/{made}", json={"name": "x"})
    await h.refused(404, "tok-admin", "DELETE", f"{XYLO}/namespaces/{made}")
    assert (await h.ok("tok-a", "GET", path))["namespace"]["name"] == "ALPHA-one"
    assert (await h.call("tok-a", "DELETE", path)).status_code == 204


@managed(f"POST {MEMORIES}/move")
async def move_only_the_callers_memories_into_its_stores_namespaces(w: World) -> None:
    h = w.http
    target = await a_namespace(w, "ALPHA-target")
    body = {"memoryIds": OTHERS, "namespaceRef": {"namespaceId": target}}
    await h.refused(403, "tok-ro", "POST", f"{A}/long-term-memory/move", json=body)
    await h.refused(403, "tok-b", "POST", f"{A}/long-term-memory/move", json=body)
    await h.refused(404, "tok-admin", "POST", f"{XYLO}/long-term-memory/move", json=body)
    done = await h.ok("tok-a", "POST", f"{A}/long-term-memory/move", json=body)
    assert done["moved"] == [] and len(done["errors"]) == len(OTHERS)
    for other in OTHERS:
        assert "namespace_id" not in await h.memory(other)
    await memories_untouched(h)


# -- the test ------------------------------------------------------------------------------
def _unique(cases: dict[str, Case]) -> list[Case]:
    return list(dict.fromkeys(cases.values()))


@pytest.mark.parametrize("case", _unique(MANAGED), ids=lambda c: c.__name__)
async def test_managed_route(world: World, case: Case) -> None:  # noqa: F811
    await case(world)
    await memories_untouched(world.http)
