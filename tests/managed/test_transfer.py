"""`remem memories export` / `import` move a store whole: its memories and the managed API's
namespace resources they are placed in, ids kept, into another remem (here another key prefix
on the test Redis)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.namespace_tree import NamespaceTree
from remem.tenants.transfer import TREE_KIND, export_memories, import_memories

S = "/v1/stores/shop"


@asynccontextmanager
async def remem(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), Resources(settings) as res:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http, res


def another(settings: Settings) -> Settings:
    """A second remem on the same Redis, under the test's prefix (so its cleanup covers it)."""
    prefix = f"{settings.key_prefix}b:"
    return settings.model_copy(
        update={
            "key_prefix": prefix,
            "working_memory_index": f"{prefix}wm",
            "long_term_memory_index": f"{prefix}ltm",
        }
    )


async def test_a_store_moves_whole_with_its_namespace_resources(settings: Settings) -> None:
    async with remem(settings) as (http, res):
        made = await http.post(f"{S}/namespaces", json={"name": "work", "scope": "SHARED"})
        assert made.status_code == 201, made.text
        root = made.json()["namespace"]["namespaceId"]
        made = await http.post(f"{S}/namespaces", json={"name": "projects", "parentId": root})
        child = made.json()["namespace"]["namespaceId"]
        await http.patch(f"{S}/namespaces/{root}", json={"name": "job"})  # revision 2
        memory = {"id": "m1", "text": "the shop opens at nine", "ownerId": "ada"}
        memory["namespaceRef"] = {"namespaceId": child}
        r = await http.post(f"{S}/long-term-memory", json={"memories": [memory]})
        assert r.status_code == 201, r.text
        before = {
            "tree": (await http.get(f"{S}/namespaces/{child}")).json(),
            "root": (await http.get(f"{S}/namespaces/{root}")).json(),
            "memory": (await http.get(f"{S}/long-term-memory/m1")).json(),
        }
        trees = NamespaceTree(res.redis, res.keys)
        out = io.StringIO()
        done = await export_memories(res.long_term, out, trees=trees, progress=lambda _: None)
        assert (done.memories, done.managed_namespaces) == (1, 2)
        ada = io.StringIO()
        await export_memories(res.long_term, ada, user_id="ada", trees=trees, progress=print)
        assert TREE_KIND not in ada.getvalue()  # the store's, not a user's
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("kind") for line in lines[1:]] == [None, TREE_KIND]
    assert lines[-1]["store"] == "shop" and set(lines[-1]["namespaces"]) == {root, child}

    async with remem(another(settings)) as (http, res):
        trees = NamespaceTree(res.redis, res.keys)
        source = io.StringIO(out.getvalue())
        done = await import_memories(res.long_term, source, trees=trees, progress=print)
        assert (done.memories, done.managed_namespaces, done.skipped) == (1, 2, 0)
        after = {
            "tree": (await http.get(f"{S}/namespaces/{child}")).json(),
            "root": (await http.get(f"{S}/namespaces/{root}")).json(),
            "memory": (await http.get(f"{S}/long-term-memory/m1")).json(),
        }
        assert after == before
        assert after["memory"]["namespaceRef"]["path"] == "job/projects"
        assert after["root"]["namespace"]["revision"] == 2
        refused = await http.delete(f"{S}/namespaces/{child}")  # it holds m1 again
        assert refused.status_code == 409

        await http.post(f"{S}/namespaces", json={"name": "new", "scope": "SHARED"})
        again = await import_memories(
            res.long_term, io.StringIO(out.getvalue()), trees=trees, progress=print
        )
        assert (again.managed_namespaces, again.skipped) == (0, 1)
        listed = (await http.get(f"{S}/namespaces")).json()["items"]
        assert sorted(n["name"] for n in listed) == ["job", "new"]  # never merged


async def test_get_v1_export_of_a_store_carries_its_namespace_resources(
    settings: Settings,
) -> None:
    """GET /v1/export?namespace=S ends with store S's namespace resources (one line), and
    importing the stream puts them back with the memories placed in them; a user's export,
    the store's and not the user's, has none."""
    async with remem(settings) as (http, res):
        made = await http.post(f"{S}/namespaces", json={"name": "work", "scope": "SHARED"})
        root = made.json()["namespace"]["namespaceId"]
        memory = {"id": "m1", "text": "the shop opens at nine", "ownerId": "ada"}
        memory["namespaceRef"] = {"namespaceId": root}
        r = await http.post(f"{S}/long-term-memory", json={"memories": [memory]})
        assert r.status_code == 201, r.text
        other = "/v1/stores/other/namespaces"
        await http.post(other, json={"name": "elsewhere", "scope": "SHARED"})
        before = (await http.get(f"{S}/long-term-memory/m1")).json()
        exported = await http.get("/v1/export", params={"namespace": "shop"})
        assert exported.status_code == 200, exported.text
        by_user = await http.get("/v1/export", params={"namespace": "shop", "user_id": "ada"})
        assert TREE_KIND not in by_user.text
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [line.get("kind") for line in lines[1:]] == [None, TREE_KIND]
    assert lines[-1]["store"] == "shop" and set(lines[-1]["namespaces"]) == {root}

    async with remem(another(settings)) as (http, res):
        trees = NamespaceTree(res.redis, res.keys)
        source = io.StringIO(exported.text)
        done = await import_memories(res.long_term, source, trees=trees, progress=print)
        assert (done.memories, done.managed_namespaces, done.skipped) == (1, 1, 0)
        assert (await http.get(f"{S}/long-term-memory/m1")).json() == before
        assert before["namespaceRef"]["path"] == "work"
        got = (await http.get(f"{S}/namespaces/{root}")).json()["namespace"]
        assert got["name"] == "work" and got["revision"] == 1
        assert (await http.get("/v1/stores/other/namespaces")).json()["items"] == []
