"""Who may erase, export and read the audit log, over real HTTP with scoped callers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from tests.helpers import assert_4xx_with_reason
from tests.security.callers import TENANTS, Named, bearer
from tests.security.seed import seed_memories, seed_sessions
from tests.serving import served

Served = tuple[httpx.AsyncClient, Resources]


@pytest.fixture
async def tenants(settings: Settings) -> AsyncIterator[Served]:
    """bob has data in acme/support, acme/sales and globex."""
    app = create_app(settings, authenticator=Named(TENANTS))
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        res: Resources = app.state.resources
        for namespace in ("acme/support", "acme/sales", "globex"):
            await seed_memories(res, "bob", namespace, 3)
        await seed_memories(res, "alice", "acme/support", 2)
        await seed_sessions(res, "bob", "globex", 1)
        await seed_sessions(res, "alice", "acme/support", 1)
        yield http, res


async def erase(http: httpx.AsyncClient, who: str, **body: str) -> httpx.Response:
    return await http.post("/v1/erasures", json=body, headers=bearer(who))


async def owners(http: httpx.AsyncClient, who: str, **params: str) -> list[tuple[str, str]]:
    r = await http.get("/v1/export", params=params, headers=bearer(who))
    assert r.status_code == 200, r.text
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[0]["format"] == "remem-memories"
    return sorted({(line["namespace"], line["user_id"]) for line in lines[1:]})


@pytest.mark.parametrize(
    ("who", "body", "why"),
    [
        ("acme-reader", {"user_id": "bob", "namespace": "acme/support"}, "write role"),
        ("acme-writer", {"user_id": "bob"}, "name the namespace"),
        ("acme-writer", {"user_id": "bob", "namespace": "globex"}, "outside"),
        ("acme-writer", {"namespace": "acme/support"}, "admin role"),
        ("alice", {"user_id": "bob", "namespace": "acme/support"}, "outside"),
        ("globex-admin", {"namespace": "acme/support"}, "outside"),
    ],
)
async def test_an_erase_outside_the_callers_scope_or_role_is_a_403_and_erases_nothing(
    tenants: Served, who: str, body: dict[str, str], why: str
) -> None:
    http, _ = tenants
    r = await erase(http, who, **body)
    assert_4xx_with_reason(r, 403)
    assert why in r.json()["detail"]
    entry = (await http.get("/v1/audit", headers=bearer("admin"))).json()[0]
    assert (entry["action"], entry["outcome"]) == ("erase", "forbidden")
    assert len(await owners(http, "admin", user_id="bob")) == 3


async def test_a_scoped_writer_erases_a_user_in_its_namespace_only(tenants: Served) -> None:
    http, _ = tenants
    r = await erase(http, "acme-writer", user_id="bob", namespace="acme/sales")
    assert r.status_code == 200, r.text
    assert r.json()["requested_by"] == "token:acme-w"
    assert await owners(http, "admin", user_id="bob") == [
        ("acme/support", "bob"),
        ("globex", "bob"),
    ]


async def test_a_caller_of_one_namespace_and_user_erases_itself_without_naming_them(
    tenants: Served,
) -> None:
    http, _ = tenants
    r = await erase(http, "alice", user_id="alice")
    assert r.status_code == 200, r.text
    assert r.json()["namespace"] == "acme/support"
    assert r.json()["counts"]["long_term_memories"] >= 2
    assert await owners(http, "admin", user_id="alice") == []


async def test_a_namespace_admin_erases_its_namespace(tenants: Served) -> None:
    http, _ = tenants
    r = await erase(http, "globex-admin", namespace="globex")
    assert r.status_code == 200, r.text
    assert ("globex", "bob") not in await owners(http, "admin", user_id="bob")


async def test_export_is_narrowed_to_the_callers_scope(tenants: Served) -> None:
    """An acme reader exporting bob gets bob's acme data, none of globex; alice's export
    names nothing and is hers."""
    http, _ = tenants
    assert await owners(http, "acme-reader", user_id="bob") == [
        ("acme/sales", "bob"),
        ("acme/support", "bob"),
    ]
    assert await owners(http, "alice") == [("acme/support", "alice")]


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("acme-reader", {"namespace": "globex"}, 403),
        ("alice", {"user_id": "bob"}, 403),
        ("admin", {}, 400),
        ("admin", {"user_id": ""}, 400),
        ("nobody", {"user_id": "bob"}, 401),
    ],
)
async def test_an_export_outside_the_scope_or_naming_nothing_is_refused(
    tenants: Served, who: str, params: dict[str, str], status: int
) -> None:
    http, _ = tenants
    r = await http.get("/v1/export", params=params, headers=bearer(who))
    assert_4xx_with_reason(r, status)


@pytest.mark.parametrize("who", ["acme-writer", "globex-admin", "alice"])
async def test_the_audit_log_needs_an_admin_over_everything(tenants: Served, who: str) -> None:
    http, _ = tenants
    assert_4xx_with_reason(await http.get("/v1/audit", headers=bearer(who)), 403)
    assert (await http.get("/v1/audit", headers=bearer("admin"))).status_code == 200
