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


def _unique(cases: dict[str, Case]) -> list[Case]:
    return list(dict.fromkeys(cases.values()))


@pytest.mark.parametrize("case", _unique(MANAGED), ids=lambda c: c.__name__)
async def test_managed_route(world: World, case: Case) -> None:  # noqa: F811
    await case(world)
    await memories_untouched(world.http)
