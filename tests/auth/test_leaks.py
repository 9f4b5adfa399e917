"""The leak suite: every REST route and every MCP tool, over real HTTP and the MCP SDK's client,
tried by one tenant against the other's data, by a read-only token against writes, and with no
or an unknown token. Each answer is 401, 403, 404, or only the caller's own data: every answer
body is scanned for the other tenants' marker words (``Http.call`` and ``Mcp.call`` do it on
every request), and every attempted write is checked to have left the victim's data as it was.

Tenants (``PRINCIPALS``): A owns the namespace ``tenant-a``; B owns every namespace under the
prefix ``b-ü {t}|x/`` (unicode and query-syntax characters on purpose) and is bound to the user
bob. In B's prefix the user carol has data B must not see, and ``b-ü {t}|xylophone`` shares the
prefix's characters without its slash. A memory and a session without a namespace belong to
nobody's scope but the admin's.

Each caller is a real API token made by the ``TokenStore``, and the app is served with token
auth on (``test_bad_credentials.py`` tries every route with expired, revoked and forged
credentials).

``REST`` and ``TOOLS`` register each case under the routes (method and path) or tools it
exercises; ``test_coverage.py`` fails when the app has a route or tool not registered here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
import redis.asyncio
from mcp import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.shared.exceptions import MCPError

from remem.app import build_app
from remem.auth.principal import Principal
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.helpers import wait_until
from tests.serving import served

NS_A = "tenant-a"
B_PREFIX = "b-ü {t}|x/"
NS_B = B_PREFIX + "one"
NS_B2 = B_PREFIX + "two"
NS_XYLO = "b-ü {t}|xylophone"

PRINCIPALS = {
    "tok-a": Principal("token:a", (NS_A,), None, "write", via="token"),
    "tok-b": Principal("token:b", (B_PREFIX + "*",), "bob", "write", via="token"),
    "tok-ro": Principal("token:ro", (NS_A,), None, "read", via="token"),
    "tok-all": Principal("token:all", ("*",), None, "write", via="token"),
    "tok-admin": Principal("token:admin", ("*",), None, "admin", via="token"),
}
# Words in the seeded texts; an answer to a caller must hold none of the others'.
UNSEEN = {
    "tok-a": ("BRAVO", "CAROL", "XYLO", "NOBODY"),
    "tok-ro": ("BRAVO", "CAROL", "XYLO", "NOBODY"),
    "tok-b": ("ALPHA", "CAROL", "XYLO", "NOBODY"),
    "tok-all": (),
    "tok-admin": (),
}
SEED_MEMORIES = [
    {"id": "m-a1", "text": "ALPHA alice likes green tea", "namespace": NS_A, "user_id": "alice"},
    {"id": "m-a2", "text": "ALPHA the team drinks green tea", "namespace": NS_A},
    {"id": "m-b1", "text": "BRAVO bob likes green tea", "namespace": NS_B, "user_id": "bob"},
    {"id": "m-c1", "text": "CAROL likes green tea", "namespace": NS_B2, "user_id": "carol"},
    {"id": "m-x1", "text": "XYLO bob likes green tea", "namespace": NS_XYLO, "user_id": "bob"},
    {"id": "m-n1", "text": "NOBODY likes green tea"},
]
SEED_SESSIONS = [  # (namespace, user, word): each holds a session "shared"
    (NS_A, "alice", "ALPHA"),
    (NS_B, "bob", "BRAVO"),
    (NS_B2, "carol", "CAROL"),
    (NS_XYLO, "bob", "XYLO"),
    (None, None, "NOBODY"),
]
REFUSED = {401, 403, 404}
# Each name's real API token, made by the TokenStore for the served app (token auth on), and
# the subject it proves; a name with no token (``not-a-token``) is sent as it is.
REAL: dict[str, str] = {}
SUBJECTS: dict[str, str] = {}
HASH_KEY = "leaks-" + "k" * 32


async def make_tokens(settings: Settings) -> None:
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(client, Keys(settings.key_prefix), HASH_KEY)
        for name, p in PRINCIPALS.items():
            REAL[name], info = await store.create(p.namespaces, role=p.role, user_id=p.user_id)
            SUBJECTS[name] = f"token:{info.id}"
    finally:
        await client.aclose()


@dataclass
class Http:
    http: httpx.AsyncClient

    async def call(self, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request as ``who`` (a token name; None: no credentials): never a 5xx, and
        never a word of data ``who`` may not see."""
        headers = {"Authorization": f"Bearer {REAL.get(who, who)}"} if who else {}
        r = await self.http.request(method, path, headers=headers, **kw)
        assert r.status_code < 500, f"{method} {path} as {who}: {r.status_code} {r.text}"
        for word in UNSEEN.get(who or "", ()):
            assert word not in r.text, f"{method} {path} as {who} leaked {word}: {r.text}"
        return r

    async def ok(self, who: str, method: str, path: str, **kw: Any) -> Any:
        r = await self.call(who, method, path, **kw)
        assert r.status_code == 200, f"{method} {path} as {who}: {r.status_code} {r.text}"
        return r.json()

    async def refused(
        self, status: int, who: str, method: str, path: str, **kw: Any
    ) -> dict[str, Any]:
        """Refused with ``status`` and a reason."""
        r = await self.call(who, method, path, **kw)
        assert r.status_code == status, f"{method} {path} as {who}: {r.status_code} {r.text}"
        body: dict[str, Any] = r.json()
        assert body.get("detail"), body
        return body

    async def session(self, session_id: str, namespace: str | None, user: str | None) -> Any:
        """The session as the admin reads it (None: gone)."""
        params = {k: v for k, v in (("namespace", namespace), ("user_id", user)) if v}
        r = await self.call("tok-admin", "GET", f"/v1/working-memory/{session_id}", params=params)
        return r.json() if r.status_code == 200 else None

    async def memory(self, memory_id: str) -> Any:
        r = await self.call("tok-admin", "GET", f"/v1/long-term-memory/{memory_id}")
        return r.json() if r.status_code == 200 else None


@dataclass
class Mcp:
    clients: dict[str, Client] = field(default_factory=dict)

    async def call(self, who: str, tool: str, **arguments: Any) -> tuple[bool, str]:
        """(is_error, text) of a tool call by ``who``."""
        result = await self.clients[who].call_tool(tool, arguments)
        text = "".join(getattr(c, "text", "") for c in result.content)
        for word in UNSEEN[who]:
            assert word not in text, f"{tool} as {who} leaked {word}: {text}"
        return bool(result.is_error), text

    async def ok(self, who: str, tool: str, **arguments: Any) -> Any:
        failed, text = await self.call(who, tool, **arguments)
        assert not failed, f"{tool} as {who}: {text}"
        return json.loads(text)

    async def refused(self, who: str, tool: str, reason: str, **arguments: Any) -> str:
        failed, text = await self.call(who, tool, **arguments)
        assert failed, f"{tool} as {who} should have been refused: {text}"
        assert reason in text, f"{tool} as {who}: {text!r} does not say {reason!r}"
        return text


@dataclass
class World:
    app: Any
    url: str
    http: Http
    mcp: Mcp


@pytest.fixture(scope="module")
def leak_settings(redis_url: str) -> Iterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    yield Settings(
        redis_url=redis_url,
        key_prefix=prefix,
        working_memory_index=f"{prefix}working_memory_idx",
        long_term_memory_index=f"{prefix}long_term_memory_idx",
        llm_base_url=None,
        llm_api_key=None,
        # Defaults that would widen B's reach if they were applied over its scope.
        mcp_default_namespace=NS_A,
        mcp_default_user_id="alice",
        auth_mode="token",
        token_hash_key=HASH_KEY,
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for name in client.execute_command("FT._LIST"):
        if name.startswith(prefix):
            client.execute_command("FT.DROPINDEX", name, "DD")
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.unlink(key)
    client.close()


def mcp_client(url: str, token: str) -> Client:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {REAL[token]}"})
    return Client(streamable_http_client(url, http_client=http))


@pytest.fixture(scope="module")
async def world(leak_settings: Settings) -> AsyncIterator[World]:
    await make_tokens(leak_settings)
    app = build_app(leak_settings)  # token auth, from the settings
    async with served(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        h = Http(http)
        await h.ok("tok-admin", "POST", "/v1/long-term-memory/", json={"memories": SEED_MEMORIES})
        for namespace, user, word in SEED_SESSIONS:
            body = {"messages": [{"role": "user", "content": f"{word} says hello"}]}
            if namespace:
                body["namespace"] = namespace
            if user:
                body["user_id"] = user
            await h.ok("tok-admin", "PUT", "/v1/working-memory/shared", json=body)
        yield World(app, url, h, Mcp())


Case = Callable[[World], Awaitable[None]]
REST: dict[str, Case] = {}
TOOLS: dict[str, Case] = {}


def rest(*routes: str) -> Callable[[Case], Case]:
    """Register a case as exercising ``routes`` ("METHOD /path" as the app declares them)."""

    def register(case: Case) -> Case:
        for route in routes:
            REST[route] = case
        return case

    return register


def tool(*names: str) -> Callable[[Case], Case]:
    def register(case: Case) -> Case:
        for name in names:
            TOOLS[name] = case
        return case

    return register


# -- REST: working memory ----------------------------------------------------------------------
LIST = ("GET /v1/working-memory/", "GET /v1/working-memory")


@rest(*LIST)
async def list_sessions_shows_only_the_callers_sessions(w: World) -> None:
    h = w.http
    for path in ("/v1/working-memory/", "/v1/working-memory"):
        for who in ("tok-a", "tok-ro", "tok-b"):  # each sees its one "shared", not the others
            assert await h.ok(who, "GET", path) == {"sessions": ["shared"], "total": 1}
        assert (await h.ok("tok-admin", "GET", path))["total"] >= 5
        await h.refused(403, "tok-a", "GET", path, params={"namespace": NS_B})
        await h.refused(403, "tok-b", "GET", path, params={"namespace": NS_A})
        await h.refused(403, "tok-b", "GET", path, params={"namespace": NS_XYLO})
        await h.refused(403, "tok-b", "GET", path, params={"user_id": "carol"})
        # carol's session in B's prefix: B is bound to bob
        assert (await h.ok("tok-b", "GET", path, params={"namespace": NS_B2}))["total"] == 0
        assert (await h.ok("tok-a", "GET", path, params={"user_id": "bob"}))["total"] == 0


@rest("GET /v1/working-memory/{session_id:path}")
async def get_session_within_the_scope_only(w: World) -> None:
    h, path = w.http, "/v1/working-memory/shared"
    got = await h.ok("tok-a", "GET", path)  # the namespace filled in from A's scope
    assert got["namespace"] == NS_A and "ALPHA" in got["messages"][0]["content"]
    assert (await h.ok("tok-ro", "GET", path))["namespace"] == NS_A
    await h.refused(403, "tok-a", "GET", path, params={"namespace": NS_B})
    await h.refused(403, "tok-a", "GET", path, params={"namespace": ""})  # no namespace: not A's
    await h.refused(403, "tok-b", "GET", path)  # a prefix scope: name the namespace
    got = await h.ok("tok-b", "GET", path, params={"namespace": NS_B})
    assert got["user_id"] == "bob" and "BRAVO" in got["messages"][0]["content"]
    await h.refused(404, "tok-b", "GET", path, params={"namespace": NS_B2})  # carol's
    await h.refused(403, "tok-b", "GET", path, params={"namespace": NS_B2, "user_id": "carol"})


async def untouched(h: Http) -> None:
    """Every seeded session of another tenant holds its one message, as seeded."""
    for namespace, user, word in SEED_SESSIONS:
        found = await h.session("shared", namespace, user)
        assert found is not None, (namespace, user)
        assert [m["content"] for m in found["messages"]] == [f"{word} says hello"]


@rest("PUT /v1/working-memory/{session_id:path}")
async def put_session_only_within_the_scope_with_write(w: World) -> None:
    h, path = w.http, "/v1/working-memory/shared"
    body = {"messages": [{"role": "user", "content": "overwritten"}]}
    await h.refused(403, "tok-ro", "PUT", path, json=body)
    await h.refused(403, "tok-a", "PUT", path, json=body | {"namespace": NS_B})
    await h.refused(403, "tok-b", "PUT", path, json=body | {"namespace": NS_B2, "user_id": "carol"})
    await h.refused(403, "tok-b", "PUT", path, json=body, params={"user_id": "carol"})
    await h.refused(403, "tok-b", "PUT", path, json=body)  # which namespace of the prefix?
    # structured memories are promoted later in their own namespace: held to the scope too
    stray = {"memories": [{"id": "stray", "text": "stray", "namespace": NS_B}]}
    await h.refused(403, "tok-a", "PUT", "/v1/working-memory/a-new", json=stray)
    stray = {"memories": [{"id": "stray", "text": "stray", "user_id": "carol"}], "namespace": NS_B}
    await h.refused(403, "tok-b", "PUT", "/v1/working-memory/b-new", json=stray)
    made = await h.ok("tok-b", "PUT", "/v1/working-memory/b-new", json={"namespace": NS_B})
    assert (made["namespace"], made["user_id"]) == (NS_B, "bob")  # bob filled in
    made = await h.ok("tok-a", "PUT", "/v1/working-memory/a-new", json={})
    assert made["namespace"] == NS_A
    await untouched(h)


@rest("POST /v1/working-memory/{session_id:path}/messages")
async def append_only_within_the_scope_with_write(w: World) -> None:
    h, path = w.http, "/v1/working-memory/shared/messages"
    body = {"messages": [{"role": "user", "content": "appended"}]}
    await h.refused(403, "tok-ro", "POST", path, json=body)
    await h.refused(403, "tok-a", "POST", path, json=body, params={"namespace": NS_B})
    await h.refused(403, "tok-a", "POST", path, json=body | {"namespace": NS_B})
    await h.refused(
        403, "tok-b", "POST", path, json=body, params={"namespace": NS_B2, "user_id": "carol"}
    )
    await untouched(h)
    done = await h.ok(
        "tok-b", "POST", "/v1/working-memory/b-app/messages", json=body, params={"namespace": NS_B}
    )
    assert (done["namespace"], done["user_id"]) == (NS_B, "bob")


@rest("DELETE /v1/working-memory/{session_id:path}")
async def delete_session_only_within_the_scope_with_write(w: World) -> None:
    h, path = w.http, "/v1/working-memory/shared"
    await h.refused(403, "tok-ro", "DELETE", path)
    await h.refused(403, "tok-a", "DELETE", path, params={"namespace": NS_B})
    await h.refused(403, "tok-b", "DELETE", path, params={"namespace": NS_XYLO})
    await h.refused(403, "tok-b", "DELETE", path, params={"namespace": NS_B2, "user_id": "carol"})
    await h.ok("tok-b", "DELETE", path, params={"namespace": NS_B2})  # bob's: none there
    await untouched(h)
    await h.ok("tok-a", "PUT", "/v1/working-memory/a-del", json={})
    await h.ok("tok-a", "DELETE", "/v1/working-memory/a-del")
    assert await h.session("a-del", NS_A, None) is None


# -- REST: long-term memory --------------------------------------------------------------------
async def memories_untouched(h: Http) -> None:
    for seeded in SEED_MEMORIES:
        found = await h.memory(seeded["id"])
        assert found is not None and found["text"] == seeded["text"], seeded


@rest("POST /v1/long-term-memory/", "POST /v1/long-term-memory")
async def create_memories_only_within_the_scope_with_write(w: World) -> None:
    h = w.http
    for path in ("/v1/long-term-memory/", "/v1/long-term-memory"):
        one = {"text": "new ALPHA fact"}
        await h.refused(403, "tok-ro", "POST", path, json={"memories": [one]})
        await h.refused(403, "tok-a", "POST", path, json={"memories": [one | {"namespace": NS_B}]})
        await h.refused(
            403,
            "tok-a",
            "POST",
            path,
            json={"memories": [one, {"text": "x"} | {"namespace": NS_XYLO}]},
        )
        await h.refused(403, "tok-b", "POST", path, json={"memories": [{"text": "BRAVO new"}]})
        b_new = {"text": "BRAVO new", "namespace": NS_B, "user_id": "carol"}
        await h.refused(403, "tok-b", "POST", path, json={"memories": [b_new]})
    # another tenant's id is not taken over (a conflict; the record stays as it was)
    await h.refused(
        409,
        "tok-a",
        "POST",
        "/v1/long-term-memory/",
        json={"memories": [{"id": "m-b1", "text": "ALPHA took it"}]},
    )
    await h.ok(
        "tok-a",
        "POST",
        "/v1/long-term-memory/",
        json={"memories": [{"id": "a-new", "text": "ALPHA new fact"}]},
    )
    assert (await h.memory("a-new"))["namespace"] == NS_A  # filled in from the scope
    await h.ok(
        "tok-b",
        "POST",
        "/v1/long-term-memory/",
        json={"memories": [{"id": "b-new", "text": "BRAVO new", "namespace": NS_B}]},
    )
    assert (await h.memory("b-new"))["user_id"] == "bob"
    # superseding another tenant's memory: not found, nothing written, theirs still true
    for target in ("m-b1", "m-c1", "m-n1"):
        r = await h.refused(
            404,
            "tok-a",
            "POST",
            "/v1/long-term-memory/?detail=true",
            json={"memories": [{"id": "a-sup", "text": "ALPHA v2", "supersedes": [target]}]},
        )
        assert target in r["detail"] and await h.memory("a-sup") is None
        assert (await h.memory(target))["invalid_at"] is None
    await memories_untouched(h)


SEARCH = "/v1/long-term-memory/search"


async def found(h: Http, who: str, body: dict[str, Any]) -> list[str]:
    result = await h.ok(who, "POST", SEARCH, json={"text": "green tea", "limit": 50} | body)
    assert result["total"] >= len(result["memories"])
    return sorted(m["id"] for m in result["memories"])


@rest("POST /v1/long-term-memory/search")
async def search_never_leaves_the_scope(w: World) -> None:
    h = w.http
    for mode in ("semantic", "keyword", "hybrid"):
        m = {"search_mode": mode}
        assert set(await found(h, "tok-a", m)) <= {"m-a1", "m-a2", "a-new"}
        assert {"m-a1", "m-a2"} <= set(await found(h, "tok-ro", m))
        assert set(await found(h, "tok-b", m)) <= {"m-b1", "b-new"}
        assert "m-b1" in await found(h, "tok-b", m)
        # filters that exclude rather than name: narrowed by the scope, never widened
        assert await found(h, "tok-a", m | {"namespace": {"ne": NS_A}}) == []
        assert await found(h, "tok-a", m | {"namespace": {"not_in": [NS_A]}}) == []
        assert await found(h, "tok-b", m | {"user_id": {"ne": "bob"}}) == []
        assert await found(h, "tok-a", m | {"topics": {"eq": "nothing"}}) == []
        assert await found(h, "tok-a", m | {"user_id": {"eq": "bob"}}) == []
        prefixed = set(await found(h, "tok-b", m | {"namespace": {"startswith": "b-ü"}}))
        assert "m-b1" in prefixed and prefixed <= {"m-b1", "b-new"}  # not XYLO's, not carol's
    for who, bad in [
        ("tok-a", {"namespace": {"eq": NS_B}}),
        ("tok-a", {"namespace": {"any": [NS_A, NS_B]}}),
        ("tok-a", {"namespace": {"all": [NS_B]}}),
        ("tok-a", {"namespace": {"startswith": "b-"}}),
        ("tok-b", {"namespace": {"eq": NS_XYLO}}),
        ("tok-b", {"user_id": {"eq": "carol"}}),
        ("tok-b", {"user_id": {"in": ["bob", "carol"]}}),
        ("tok-b", {"user_id": {"startswith": "c"}}),
    ]:
        body = await h.refused(403, who, "POST", SEARCH, json={"text": "tea"} | bad)
        assert "outside this caller's scope" in body["detail"]
    empty = await h.ok(
        "tok-a", "POST", SEARCH, json={"text": "zzzz qqqq", "search_mode": "keyword"}
    )
    assert empty["memories"] == [] and empty["total"] == 0


DELETE_MANY = ("DELETE /v1/long-term-memory", "DELETE /v1/long-term-memory/")


@rest(*DELETE_MANY)
async def delete_memories_only_the_callers(w: World) -> None:
    h = w.http
    others = ["m-b1", "m-c1", "m-x1", "m-n1"]
    for path in ("/v1/long-term-memory", "/v1/long-term-memory/"):
        await h.refused(403, "tok-ro", "DELETE", path, params={"memory_ids": ["m-a1"]})
        done = await h.ok("tok-a", "DELETE", path, params={"memory_ids": others})
        assert done["status"] == "ok, deleted 0 memories"
        done = await h.ok("tok-b", "DELETE", path, params={"memory_ids": ["m-a1", "m-c1", "m-x1"]})
        assert done["status"] == "ok, deleted 0 memories"
    await memories_untouched(h)
    await h.ok(
        "tok-a",
        "POST",
        "/v1/long-term-memory/",
        json={"memories": [{"id": "a-gone", "text": "ALPHA to delete"}]},
    )
    done = await h.ok(
        "tok-a", "DELETE", "/v1/long-term-memory", params={"memory_ids": ["a-gone", "m-b1"]}
    )
    assert done["status"] == "ok, deleted 1 memories"


@rest("POST /v1/long-term-memory/forget")
async def forget_within_the_scope_or_as_admin(w: World) -> None:
    h, path = w.http, "/v1/long-term-memory/forget"
    everything = {"policy": {"budget": 0}}
    dry = {"dry_run": True}
    await h.refused(403, "tok-ro", "POST", path, json=everything, params=dry)
    await h.refused(403, "tok-a", "POST", path, json=everything, params=dry | {"namespace": NS_B})
    await h.refused(403, "tok-b", "POST", path, json=everything, params=dry)  # which namespace?
    await h.refused(
        403,
        "tok-b",
        "POST",
        path,
        json=everything,
        params=dry | {"namespace": NS_B2, "user_id": "carol"},
    )
    body = await h.refused(403, "tok-all", "POST", path, json=everything, params=dry)
    assert "admin" in body["detail"]
    mine = await h.ok("tok-a", "POST", path, json=everything, params=dry)
    assert mine["deleted_ids"] and all(i.startswith(("m-a", "a-")) for i in mine["deleted_ids"])
    b = await h.ok("tok-b", "POST", path, json=everything, params=dry | {"namespace": NS_B2})
    assert b["deleted_ids"] == []  # carol's memory in B's prefix is not bob's
    assert (
        len((await h.ok("tok-admin", "POST", path, json=everything, params=dry))["deleted_ids"])
        >= 6
    )
    await memories_untouched(h)


@rest("POST /v1/long-term-memory/compact")
async def compact_within_the_scope_or_as_admin(w: World) -> None:
    h, path = w.http, "/v1/long-term-memory/compact"
    await h.refused(403, "tok-ro", "POST", path)
    await h.refused(403, "tok-a", "POST", path, params={"namespace": NS_B})
    await h.refused(403, "tok-b", "POST", path, params={"namespace": NS_B2, "user_id": "carol"})
    body = await h.refused(403, "tok-all", "POST", path)
    assert "admin" in body["detail"]
    await h.ok("tok-a", "POST", path)
    await h.ok("tok-b", "POST", path, params={"namespace": NS_B})
    await h.ok("tok-admin", "POST", path)
    await memories_untouched(h)


@rest("GET /v1/long-term-memory/{memory_id:path}")
async def get_memory_outside_the_scope_is_not_found(w: World) -> None:
    h = w.http
    for who, ids in [
        ("tok-a", ["m-b1", "m-c1", "m-x1", "m-n1"]),
        ("tok-ro", ["m-b1", "m-n1"]),
        ("tok-b", ["m-a1", "m-a2", "m-c1", "m-x1", "m-n1"]),
    ]:
        for memory_id in ids:
            body = await h.refused(404, who, "GET", f"/v1/long-term-memory/{memory_id}")
            assert "not found" in body["detail"]
    assert (await h.ok("tok-ro", "GET", "/v1/long-term-memory/m-a1"))["id"] == "m-a1"
    assert (await h.ok("tok-b", "GET", "/v1/long-term-memory/m-b1"))["id"] == "m-b1"
    # an id merged into bob's memory says where it went to bob only
    copy = {"id": "b-copy", "text": "BRAVO bob likes green tea!", "namespace": NS_B}
    await h.ok("tok-b", "POST", "/v1/long-term-memory/", json={"memories": [copy]})
    assert (await h.refused(404, "tok-b", "GET", "/v1/long-term-memory/b-copy"))[
        "merged_into"
    ] == "m-b1"
    hidden = await h.refused(404, "tok-a", "GET", "/v1/long-term-memory/b-copy")
    assert "merged_into" not in hidden and "m-b1" not in hidden["detail"]


@rest("GET /v1/long-term-memory/{memory_id:path}/history")
async def history_outside_the_scope_is_not_found(w: World) -> None:
    h = w.http
    for who, ids in [("tok-a", ["m-b1", "m-c1", "m-n1"]), ("tok-b", ["m-a1", "m-x1"])]:
        for memory_id in ids:
            path = f"/v1/long-term-memory/{memory_id}/history"
            assert "not found" in (await h.refused(404, who, "GET", path))["detail"]
    mine = await h.ok("tok-ro", "GET", "/v1/long-term-memory/m-a1/history")
    assert [v["id"] for v in mine["versions"]] == ["m-a1"]


@rest("PATCH /v1/long-term-memory/{memory_id:path}")
async def patch_memory_outside_the_scope_is_not_found_and_untouched(w: World) -> None:
    h = w.http
    change = {"text": "ALPHA rewrote it"}
    for memory_id in ("m-b1", "m-c1", "m-n1"):
        await h.refused(404, "tok-a", "PATCH", f"/v1/long-term-memory/{memory_id}", json=change)
    for memory_id in ("m-a1", "m-c1", "m-x1"):
        await h.refused(
            404, "tok-b", "PATCH", f"/v1/long-term-memory/{memory_id}", json={"pinned": True}
        )
    await h.refused(403, "tok-ro", "PATCH", "/v1/long-term-memory/m-a1", json={"pinned": True})
    await h.refused(403, "tok-a", "PATCH", "/v1/long-term-memory/m-a1", json={"namespace": NS_B})
    await h.refused(403, "tok-a", "PATCH", "/v1/long-term-memory/m-a1", json={"namespace": None})
    await h.refused(403, "tok-b", "PATCH", "/v1/long-term-memory/m-b1", json={"user_id": "carol"})
    await memories_untouched(h)
    assert (await h.ok("tok-a", "PATCH", "/v1/long-term-memory/m-a1", json={"pinned": True}))[
        "pinned"
    ]


@rest("POST /v1/memory/prompt")
async def memory_prompt_narrows_both_parts(w: World) -> None:
    h, path = w.http, "/v1/memory/prompt"
    q = {"query": "what tea?"}
    await h.refused(
        403,
        "tok-a",
        "POST",
        path,
        json=q | {"session": {"session_id": "shared", "namespace": NS_B}},
    )
    await h.refused(
        403,
        "tok-b",
        "POST",
        path,
        json=q | {"session": {"session_id": "shared", "namespace": NS_B2, "user_id": "carol"}},
    )
    await h.refused(
        403, "tok-a", "POST", path, json=q | {"long_term_search": {"namespace": {"eq": NS_B}}}
    )
    got = await h.ok(
        "tok-a",
        "POST",
        path,
        json=q | {"session": {"session_id": "shared"}, "long_term_search": True},
    )
    text = json.dumps(got)
    assert "ALPHA says hello" in text and "m-a1" in text
    got = await h.ok(
        "tok-b",
        "POST",
        path,
        json=q | {"session": {"session_id": "shared", "namespace": NS_B}, "long_term_search": True},
    )
    assert "BRAVO says hello" in json.dumps(got) and "m-b1" in json.dumps(got)
    got = await h.ok("tok-a", "POST", path, json=q | {"long_term_search": True})
    assert "m-a1" in json.dumps(got)
    got = await h.ok(
        "tok-a", "POST", path, json=q | {"long_term_search": {"namespace": {"ne": NS_A}}}
    )
    assert got["long_term_memories"] is None  # an empty answer stays empty
    await h.ok("tok-ro", "POST", path, json=q | {"long_term_search": True})


# -- REST: summary views and tasks -------------------------------------------------------------
VIEWS = "/v1/summary-views"


@rest(
    "POST /v1/summary-views",
    "GET /v1/summary-views",
    "GET /v1/summary-views/{view_id}",
    "DELETE /v1/summary-views/{view_id}",
    "POST /v1/summary-views/{view_id}/partitions/run",
    "GET /v1/summary-views/{view_id}/partitions",
    "POST /v1/summary-views/{view_id}/run",
    "GET /v1/tasks/{task_id}",
)
async def summary_views_read_only_the_callers_memories(w: World) -> None:
    """Views are shared configuration: only the admin makes and deletes them. Running one, or
    reading its summaries, happens in the caller's scope: A's digest of "every user" holds
    A's memories only, and A never lists the admin's summaries."""
    h = w.http
    view = {"name": "by user", "source": "long_term", "group_by": ["user_id"]}
    for who in ("tok-a", "tok-ro", "tok-b", "tok-all"):
        await h.refused(403, who, "POST", VIEWS, json=view)
    made = await h.ok("tok-admin", "POST", VIEWS, json=view)
    one = f"{VIEWS}/{made['id']}"
    assert made["id"] in [v["id"] for v in await h.ok("tok-ro", "GET", VIEWS)]
    assert (await h.ok("tok-b", "GET", one))["group_by"] == ["user_id"]

    run = f"{one}/partitions/run"
    await h.ok("tok-admin", "POST", run, json={"group": {"user_id": "bob"}})  # BRAVO and XYLO
    await h.refused(403, "tok-ro", "POST", run, json={"group": {"user_id": "alice"}})
    await h.refused(403, "tok-b", "POST", run, json={"group": {"user_id": "bob"}})  # a prefix
    got = await h.ok("tok-a", "POST", run, json={"group": {"user_id": "alice"}})
    assert got["memory_count"] == 1 and "ALPHA" in got["summary"]
    got = await h.ok("tok-a", "POST", run, json={"group": {"user_id": "bob"}})  # none in A
    assert got["memory_count"] == 0
    listed = await h.ok("tok-a", "GET", f"{one}/partitions")
    assert sorted(p["group"]["user_id"] for p in listed) == ["alice", "bob"]
    assert all(p["memory_count"] <= 1 for p in listed)  # not the admin's bob summary (2)
    await h.ok("tok-ro", "GET", f"{one}/partitions")
    await h.refused(403, "tok-b", "GET", f"{one}/partitions")

    await h.refused(403, "tok-ro", "POST", f"{one}/run", json={})
    task = await h.ok("tok-a", "POST", f"{one}/run", json={})

    async def finished() -> Any:
        got = await h.ok("tok-ro", "GET", f"/v1/tasks/{task['id']}")
        return got if got["status"] in ("success", "failed") else None

    assert (await wait_until(finished, timeout=30))["status"] == "success"
    for p in await h.ok("tok-a", "GET", f"{one}/partitions"):
        assert p["memory_count"] <= 1
    await h.refused(404, "tok-a", "GET", "/v1/tasks/no-such-task")
    await h.refused(403, "tok-a", "DELETE", one)
    await h.ok("tok-admin", "DELETE", one)
    await memories_untouched(h)


# -- REST: erasure, export, audit --------------------------------------------------------------
@rest("POST /v1/erasures")
async def erasure_only_within_the_scope(w: World) -> None:
    """Erasing touches only what the caller may erase: others' users and namespaces are 403
    and stay; a namespace needs the admin; erasing a user A has no data of erases nothing."""
    h, path = w.http, "/v1/erasures"
    await h.refused(403, "tok-ro", "POST", path, json={"user_id": "alice"})
    await h.refused(403, "tok-a", "POST", path, json={"namespace": NS_A})  # admin only
    await h.refused(403, "tok-a", "POST", path, json={"user_id": "bob", "namespace": NS_B})
    await h.refused(403, "tok-b", "POST", path, json={"user_id": "carol", "namespace": NS_B2})
    await h.refused(403, "tok-b", "POST", path, json={"user_id": "bob"})  # prefix: name one
    await h.refused(403, "tok-b", "POST", path, json={"user_id": "bob", "namespace": NS_XYLO})
    await h.refused(400, "tok-a", "POST", path, json={})
    receipt = await h.ok("tok-a", "POST", path, json={"user_id": "zed"})
    assert receipt["namespace"] == NS_A and receipt["requested_by"] == SUBJECTS["tok-a"]
    assert receipt["counts"]["long_term_memories"] == 0
    await memories_untouched(h)
    await untouched(h)


@rest("GET /v1/export")
async def export_only_the_callers_data(w: World) -> None:
    h, path = w.http, "/v1/export"
    got = (await h.call("tok-a", "GET", path, params={"namespace": NS_A})).text
    assert "ALPHA" in got
    got = (await h.call("tok-b", "GET", path, params={"namespace": NS_B})).text
    assert "BRAVO" in got
    got = await h.call("tok-b", "GET", path)  # bob, but only within B's prefix (not XYLO)
    assert got.status_code in (200, 403), got.text
    await h.refused(403, "tok-a", "GET", path, params={"namespace": NS_B})
    await h.refused(403, "tok-b", "GET", path, params={"user_id": "carol"})
    await h.refused(403, "tok-b", "GET", path, params={"namespace": NS_XYLO})


@rest("GET /v1/audit")
async def audit_log_is_the_admins(w: World) -> None:
    h, path = w.http, "/v1/audit"
    for who in ("tok-a", "tok-ro", "tok-b", "tok-all"):
        await h.refused(403, who, "GET", path)
    assert isinstance(await h.ok("tok-admin", "GET", path), list)


@rest("GET /metrics")
async def metrics_are_the_admins(w: World) -> None:
    """Every tenant's load is in the metrics: the admin over everything only. No label names a
    namespace, a user or a memory's words."""
    h, path = w.http, "/metrics"
    await h.refused(401, None, "GET", path)
    for who in ("tok-a", "tok-ro", "tok-b", "tok-all"):
        await h.refused(403, who, "GET", path)
    r = await h.call("tok-admin", "GET", path)
    assert r.status_code == 200 and "http_requests_total" in r.text
    for word in (NS_A, NS_B, "alice", "ALPHA", "BRAVO"):
        assert word not in r.text, word


# -- REST: the console's overview --------------------------------------------------------------
@rest("GET /v1/namespaces")
async def namespaces_only_within_the_scope(w: World) -> None:
    """Each tenant sees its own namespaces only (B: its prefix, bob's data only, so not carol's
    namespace, nor the look-alike outside the prefix); the admin every one."""
    h, path = w.http, "/v1/namespaces"
    for who in ("tok-a", "tok-ro"):
        got = await h.ok(who, "GET", path)  # counts: other cases write in tenant-a too
        assert [n["name"] for n in got["namespaces"]] == [NS_A] and got["total"] == 1
        assert got["namespaces"][0]["sessions"] >= 1 and got["namespaces"][0]["memories"] >= 2
    got = await h.ok("tok-b", "GET", path)
    assert [n["name"] for n in got["namespaces"]] == [NS_B] and got["total"] == 1
    assert got["namespaces"][0]["memories"] >= 1  # bob's (carol's namespace is not listed)
    got = await h.ok("tok-admin", "GET", path, params={"limit": 1000})
    assert {NS_A, NS_B, NS_B2, NS_XYLO} <= {n["name"] for n in got["namespaces"]}
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": "x"}):
        await h.refused(422, "tok-a", "GET", path, params=bad)


@rest("GET /v1/tasks")
async def tasks_are_the_admins(w: World) -> None:
    """The due set and Docket's keys name every tenant's sessions: the admin over everything
    only."""
    h, path = w.http, "/v1/tasks"
    await h.refused(401, None, "GET", path)
    for who in ("tok-a", "tok-ro", "tok-b", "tok-all"):
        await h.refused(403, who, "GET", path)
    got = await h.ok("tok-admin", "GET", path)
    assert {"due", "queued", "running", "scheduled", "workers"} <= set(got)
    await h.refused(422, "tok-admin", "GET", path, params={"limit": -1})


@rest("GET /v1/tokens", "DELETE /v1/tokens/{token_id}")
async def tokens_are_the_admins(w: World) -> None:
    """Listing and revoking tokens: the admin over everything only; a list never holds a
    secret. A refused revocation leaves the token working."""
    h, path = w.http, "/v1/tokens"
    a_id = SUBJECTS["tok-a"].removeprefix("token:")
    for who in (None, "not-a-token"):
        await h.refused(401, who, "GET", path)
    for who in ("tok-a", "tok-ro", "tok-b", "tok-all"):
        await h.refused(403, who, "GET", path)
        await h.refused(403, who, "DELETE", f"{path}/{a_id}")
    listed = await h.ok("tok-admin", "GET", path)
    assert {t["id"] for t in listed} >= {s.removeprefix("token:") for s in SUBJECTS.values()}
    r = await h.call("tok-admin", "GET", path)
    for secret in REAL.values():
        assert secret[17:] not in r.text  # rmm_<12-character id>_<secret>
    await h.refused(404, "tok-admin", "DELETE", f"{path}/000000000000")
    await h.ok("tok-a", "GET", "/v1/working-memory/")  # still works


# -- MCP tools ---------------------------------------------------------------------------------
SCOPE = "outside this caller's scope"


@tool("get_current_datetime")
async def datetime_holds_no_data(w: World) -> None:
    for who in ("tok-a", "tok-b", "tok-ro"):
        assert (await w.mcp.ok(who, "get_current_datetime"))["unix_ts"] > 0


@tool("create_long_term_memories")
async def mcp_create_only_within_the_scope(w: World) -> None:
    m = w.mcp
    await m.refused("tok-ro", "create_long_term_memories", "write role", memories=[{"text": "x"}])
    await m.refused(
        "tok-a", "create_long_term_memories", SCOPE, memories=[{"text": "x", "namespace": NS_B}]
    )
    await m.refused(
        "tok-b",
        "create_long_term_memories",
        SCOPE,
        memories=[{"text": "x", "namespace": NS_B, "user_id": "carol"}],
    )
    # the configured defaults (tenant-a, alice) are not B's: B's user is filled in, no default
    await m.ok(
        "tok-b",
        "create_long_term_memories",
        memories=[{"id": "b-mcp", "text": "BRAVO via mcp", "namespace": NS_B}],
    )
    assert (await w.http.memory("b-mcp"))["user_id"] == "bob"
    await m.ok(
        "tok-a", "create_long_term_memories", memories=[{"id": "a-mcp", "text": "ALPHA via mcp"}]
    )
    made = await w.http.memory("a-mcp")
    assert (made["namespace"], made["user_id"]) == (NS_A, "alice")  # A may use the defaults
    await memories_untouched(w.http)


@tool("search_long_term_memory")
async def mcp_search_never_leaves_the_scope(w: World) -> None:
    m = w.mcp
    ids = {
        x["id"]
        for x in (await m.ok("tok-a", "search_long_term_memory", text="green tea", limit=50))[
            "memories"
        ]
    }
    assert {"m-a1"} <= ids and not ids & {"m-b1", "m-c1", "m-x1", "m-n1"}
    ids = {
        x["id"]
        for x in (
            await m.ok(
                "tok-b",
                "search_long_term_memory",
                text="green tea",
                namespace={"startswith": B_PREFIX},
                limit=50,
            )
        )["memories"]
    }
    assert "m-b1" in ids and not ids & {"m-a1", "m-c1", "m-x1", "m-n1"}
    await m.refused("tok-a", "search_long_term_memory", SCOPE, text="tea", namespace={"eq": NS_B})
    await m.refused("tok-b", "search_long_term_memory", SCOPE, text="tea", user_id={"eq": "carol"})
    none = await m.ok("tok-a", "search_long_term_memory", text="tea", namespace={"ne": NS_A})
    assert none["memories"] == [] and none["total"] == 0


@tool("memory_prompt")
async def mcp_prompt_narrows_both_parts(w: World) -> None:
    m = w.mcp
    await m.refused(
        "tok-a",
        "memory_prompt",
        SCOPE,
        query="tea?",
        session_id={"eq": "shared"},
        namespace={"eq": NS_B},
    )
    got = json.dumps(
        await m.ok("tok-a", "memory_prompt", query="green tea?", session_id={"eq": "shared"})
    )
    assert "ALPHA says hello" in got
    got = json.dumps(
        await m.ok(
            "tok-b",
            "memory_prompt",
            query="green tea?",
            session_id={"eq": "shared"},
            namespace={"eq": NS_B},
        )
    )
    assert "BRAVO says hello" in got and "m-b1" in got


@tool("set_working_memory")
async def mcp_set_session_only_within_the_scope(w: World) -> None:
    m = w.mcp
    await m.refused("tok-ro", "set_working_memory", "write role", session_id="ro")
    await m.refused("tok-a", "set_working_memory", SCOPE, session_id="shared", namespace=NS_B)
    await m.refused(
        "tok-a",
        "set_working_memory",
        SCOPE,
        session_id="a-mcp",
        memories=[{"text": "stray", "namespace": NS_B}],
    )
    await m.refused(
        "tok-b", "set_working_memory", SCOPE, session_id="shared", namespace=NS_B2, user_id="carol"
    )
    made = await m.ok("tok-b", "set_working_memory", session_id="b-mcp", namespace=NS_B)
    assert (made["namespace"], made["user_id"]) == (NS_B, "bob")
    await untouched(w.http)


@tool("get_working_memory")
async def mcp_get_session_only_within_the_scope(w: World) -> None:
    m = w.mcp
    await m.refused("tok-a", "get_working_memory", SCOPE, session_id="shared", namespace=NS_B)
    await m.refused(
        "tok-b", "get_working_memory", "not found", session_id="shared", namespace=NS_B2
    )
    got = await m.ok("tok-a", "get_working_memory", session_id="shared")
    assert got["namespace"] == NS_A


@tool("get_long_term_memory")
async def mcp_get_memory_outside_the_scope_is_not_found(w: World) -> None:
    for memory_id in ("m-b1", "m-c1", "m-n1"):
        await w.mcp.refused("tok-a", "get_long_term_memory", "not found", memory_id=memory_id)
    await w.mcp.refused("tok-b", "get_long_term_memory", "not found", memory_id="m-c1")
    assert (await w.mcp.ok("tok-ro", "get_long_term_memory", memory_id="m-a1"))["id"] == "m-a1"


@tool("edit_long_term_memory")
async def mcp_edit_outside_the_scope_is_not_found(w: World) -> None:
    m = w.mcp
    await m.refused("tok-a", "edit_long_term_memory", "not found", memory_id="m-b1", text="ALPHA")
    await m.refused("tok-b", "edit_long_term_memory", "not found", memory_id="m-c1", pinned=True)
    await m.refused("tok-ro", "edit_long_term_memory", "write role", memory_id="m-a1", pinned=True)
    await m.refused("tok-a", "edit_long_term_memory", SCOPE, memory_id="m-a1", namespace=NS_B)
    await memories_untouched(w.http)


@tool("delete_long_term_memories")
async def mcp_delete_only_the_callers(w: World) -> None:
    m = w.mcp
    await m.refused("tok-ro", "delete_long_term_memories", "write role", memory_ids=["m-a1"])
    done = await m.ok("tok-a", "delete_long_term_memories", memory_ids=["m-b1", "m-n1"])
    assert done["status"] == "ok, deleted 0 memories"
    await memories_untouched(w.http)


@tool("compact_long_term_memories")
async def mcp_compact_within_the_scope_or_as_admin(w: World) -> None:
    m = w.mcp
    await m.refused("tok-ro", "compact_long_term_memories", "write role")
    await m.refused("tok-a", "compact_long_term_memories", SCOPE, namespace=NS_B)
    await m.refused("tok-b", "compact_long_term_memories", SCOPE, namespace=NS_B, user_id="carol")
    await m.ok("tok-a", "compact_long_term_memories")
    await memories_untouched(w.http)


# -- the tests ---------------------------------------------------------------------------------
def _unique(cases: dict[str, Case]) -> list[Case]:
    return list(dict.fromkeys(cases.values()))


@pytest.mark.parametrize("case", _unique(REST), ids=lambda c: c.__name__)
async def test_rest_route(world: World, case: Case) -> None:
    await case(world)


@pytest.mark.parametrize("case", _unique(TOOLS), ids=lambda c: c.__name__)
async def test_mcp_tool(world: World, case: Case) -> None:
    # The SDK's clients are opened and closed in the test's own task (anyio's cancel scopes
    # must be left in the task that entered them, which a module fixture's teardown is not).
    async with AsyncExitStack() as stack:
        for token in PRINCIPALS:
            world.mcp.clients[token] = await stack.enter_async_context(
                mcp_client(f"{world.url}/mcp", token)
            )
        await case(world)


@pytest.mark.parametrize(("token", "namespace"), [("tok-a", NS_XYLO), ("tok-b", NS_A)])
async def test_a_url_naming_a_namespace_outside_the_scope_refuses_the_connection(
    world: World, token: str, namespace: str
) -> None:
    """A token at /<another tenant's namespace>/mcp (one without a slash, which the URL pattern
    cannot hold) is refused when the client connects, 403 with the reason: no tool runs."""
    url = f"{world.url}/{quote(namespace)}/mcp"
    refused: list[MCPError] = []
    try:
        async with mcp_client(url, token) as client:
            await client.list_tools()
    except* MCPError as group:
        while isinstance(group, BaseExceptionGroup):
            group = group.exceptions[0]
        refused.append(group)
    assert refused, f"{token} connected at {url}"
    assert refused[0].error.message == f"namespace {namespace!r} is outside this caller's scope"
    assert refused[0].error.data == {"status": 403, "code": "forbidden"}
    await memories_untouched(world.http)


async def test_every_route_refuses_no_token_and_an_unknown_token(world: World) -> None:
    """Every guarded route (the coverage test lists them) answers 401 before it runs."""
    from tests.auth.test_coverage import guarded_routes

    for route in guarded_routes(world.app):
        method, path = route.split(" ", 1)
        concrete = (
            path.replace("{session_id:path}", "shared")
            .replace("{memory_id:path}", "m-a1")
            .replace("{namespace}", NS_A)
        )
        for who in (None, "not-a-token"):
            r = await world.http.call(who, "POST" if method == "*" else method, concrete, json={})
            assert r.status_code == 401, f"{route} as {who}: {r.status_code} {r.text}"
            assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    await memories_untouched(world.http)
    await untouched(world.http)
