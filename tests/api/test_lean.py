"""LeanRoute answers every request exactly as FastAPI's APIRoute does, and refuses, when the
route is declared, the parameter kinds it does not handle.

Each endpoint here is declared twice in one app, under ``/lean`` with LeanRoute and under
``/fastapi`` with APIRoute, with remem's error handlers installed; every request is sent to both
and the status codes, content types and bodies must be the same bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
from fastapi import APIRouter, Body, Cookie, Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import AliasChoices, BaseModel, Field

from remem.api.errors import install_error_handlers
from remem.api.lean import LeanRoute, json_response
from remem.errors import NotFound


class Item(BaseModel):
    name: str = Field(max_length=5)
    n: int = Field(0, ge=0, le=10)
    tags: list[str] = []
    at: datetime | None = None
    score: float | None = None
    inner: dict[str, int] | None = None


class Echo(BaseModel):
    values: dict[str, Any]


async def marker(request: Request) -> str:
    return "dep"


def _echo(**values: Any) -> Response:
    dumped = {
        k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in values.items()
    }
    return json_response(Echo(values=dumped))


def declare(router: APIRouter) -> None:
    """The same endpoints, on a router of either route class."""

    @router.get("/items/{item_id:path}", response_model=Echo)
    async def get_item(
        item_id: str,
        q: str | None = None,
        limit: int = Query(20, ge=1, le=100),
        offset: int = Query(0, ge=0),
        order: Literal["asc", "desc"] = "desc",
        flag: bool = False,
        ratio: float | None = Query(None, gt=0, le=1),
        n: int | None = Query(None, ge=0, le=1000),
        short: str | None = Query(None, max_length=3),
        when: datetime | None = None,
        tag: str = Depends(marker),
    ) -> Response:
        if item_id == "missing":
            raise NotFound("no such item")
        return _echo(
            item_id=item_id,
            q=q,
            limit=limit,
            offset=offset,
            order=order,
            flag=flag,
            ratio=ratio,
            n=n,
            short=short,
            when=when and when.isoformat(),
            tag=tag,
        )

    @router.put("/items/{item_id:path}", response_model=Echo)
    async def put_item(
        item_id: str,
        body: Item,
        limit: int = Query(20, ge=1, le=100),
        tag: str = Depends(marker),
    ) -> Response:
        return _echo(item_id=item_id, body=body, limit=limit, tag=tag)

    @router.post("/items/{item_id:path}/raw", response_model=Item)
    async def post_raw(item_id: str, body: Item) -> Response:
        return Response(body.model_dump_json(), media_type="application/json")

    @router.get("/required", response_model=Echo)
    async def get_required(
        q: str,
        n: int = Query(ge=1),
        m: int = Query(3, ge=1),
        f: int = Query(default_factory=lambda: 7, ge=1),
    ) -> Response:
        return _echo(q=q, n=n, m=m, f=f)

    @router.get("/aliased/{itemId}", response_model=Echo)
    async def get_aliased(
        item_id: str = Path(alias="itemId", max_length=5),
        page_token: str | None = Query(None, alias="pageToken", max_length=3),
        include_all: bool = Query(False, alias="includeAll"),
    ) -> Response:
        return _echo(item_id=item_id, page_token=page_token, include_all=include_all)

    @router.get("/numbers/{number}", response_model=Echo)
    async def get_number(number: int, even: bool | None = None) -> Response:
        return _echo(number=number, even=even)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    for prefix, route_class in (("/lean", LeanRoute), ("/fastapi", APIRoute)):
        router = APIRouter(route_class=route_class)
        declare(router)
        app.include_router(router, prefix=prefix)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


JSON = {"content-type": "application/json"}

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    # path parameters, with "/" in them and percent-encoded
    ("GET", "/items/a", {}),
    ("GET", "/items/a/b/c", {}),
    ("GET", "/items/a%2Fb%20c", {}),
    ("GET", "/items/%C3%A9t%C3%A9", {}),
    ("GET", "/items/missing", {}),
    ("GET", "/numbers/12", {}),
    ("GET", "/numbers/x", {}),
    ("GET", "/numbers/1.5", {}),
    ("GET", "/numbers/99999999999999999999999", {}),
    # query parameters: valid, invalid, bounds, extra, repeated, empty
    ("GET", "/items/a", {"params": {"q": "hello", "limit": "5", "order": "asc", "flag": "yes"}}),
    ("GET", "/items/a", {"params": {"limit": "0"}}),
    ("GET", "/items/a", {"params": {"limit": "101"}}),
    ("GET", "/items/a", {"params": {"limit": "abc"}}),
    ("GET", "/items/a", {"params": {"limit": "1e3"}}),
    ("GET", "/items/a", {"params": {"limit": ""}}),
    ("GET", "/items/a", {"params": {"offset": "-1", "limit": "0", "order": "up"}}),
    ("GET", "/items/a", {"params": {"flag": "maybe"}}),
    ("GET", "/items/a", {"params": {"ratio": "NaN"}}),
    ("GET", "/items/a", {"params": {"ratio": "inf"}}),
    ("GET", "/items/a", {"params": {"ratio": "0"}}),
    ("GET", "/items/a", {"params": {"ratio": "0.5"}}),
    ("GET", "/items/a", {"params": {"n": "1001"}}),
    ("GET", "/items/a", {"params": {"short": "abcd"}}),
    ("GET", "/items/a", {"params": {"when": "2024-01-02T03:04:05Z"}}),
    ("GET", "/items/a", {"params": {"when": "yesterday"}}),
    ("GET", "/items/a", {"params": {"unknown": "x", "other": "y"}}),
    ("GET", "/items/a", {"params": [("limit", "3"), ("limit", "4")]}),
    ("GET", "/items/a", {"params": [("q", "a"), ("q", "b")]}),
    ("GET", "/items/a?q=%ff%fe", {}),
    ("GET", "/numbers/3", {"params": {"even": "true"}}),
    # parameters named by an alias: read by it (not by the Python name), errors located by it
    ("GET", "/aliased/a", {"params": {"pageToken": "xy", "includeAll": "true"}}),
    ("GET", "/aliased/a", {"params": {"page_token": "xy", "include_all": "true"}}),
    ("GET", "/aliased/a", {"params": {"pageToken": "long", "includeAll": "maybe"}}),
    ("GET", "/aliased/toolong", {}),
    ("GET", "/required", {}),
    ("GET", "/required", {"params": {"q": "x"}}),
    ("GET", "/required", {"params": {"q": "x", "n": "0", "m": "0"}}),
    ("GET", "/required", {"params": {"q": "", "n": "1"}}),
    ("GET", "/required", {"params": {"q": "x", "n": "1", "f": "0"}}),
    # bodies: valid, invalid, bounds, extra fields, bad JSON, not UTF-8, empty, wrong type
    ("PUT", "/items/a/b", {"json": {"name": "ok"}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "n": 3, "tags": ["x"], "extra": 1}}),
    ("PUT", "/items/a", {"json": {"name": "toolong"}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "n": 11}}),
    ("PUT", "/items/a", {"json": {"n": -1}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "at": "not a date"}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "at": "2024-01-02T03:04:05+01:00"}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "tags": "x"}}),
    ("PUT", "/items/a", {"json": {"name": "ok", "inner": {"a": "1", "b": "x"}}}),
    ("PUT", "/items/a", {"json": {"name": 5}}),
    ("PUT", "/items/a", {"json": ["name"]}),
    ("PUT", "/items/a", {"json": None}),
    ("PUT", "/items/a", {"json": "text"}),
    ("PUT", "/items/a", {"content": b'{"name": "ok", "score": NaN}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": "ok", "score": Infinity}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": "ok", "score": 1e400}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": NaN}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": "ok",', "headers": JSON}),
    ("PUT", "/items/a", {"content": b"{'name': 'ok'}", "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": "\xff\xfe"}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b'{"name": "\\ud800"}', "headers": JSON}),
    ("PUT", "/items/a", {"content": '{"name": "ok"}'.encode("utf-16"), "headers": JSON}),
    ("PUT", "/items/a", {"content": b"\xef\xbb\xbf" + b'{"name": "ok"}', "headers": JSON}),
    ("PUT", "/items/a", {"content": b"", "headers": JSON}),
    ("PUT", "/items/a", {}),
    ("PUT", "/items/a", {"content": b'{"name": "ok"}'}),
    ("PUT", "/items/a", {"content": b'{"name": "ok"}', "headers": {"content-type": "text/plain"}}),
    ("PUT", "/items/a", {"content": b'{"name": "ok"}', "headers": {"content-type": "a/b+json"}}),
    (
        "PUT",
        "/items/a",
        {
            "content": b'{"name": "ok"}',
            "headers": {"content-type": "application/vnd.x+json; charset=utf-8"},
        },
    ),
    (
        "PUT",
        "/items/a",
        {"content": b"name=ok", "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ),
    ("PUT", "/items/a", {"json": {"name": "toolong"}, "params": {"limit": "0"}}),
    ("POST", "/items/a/raw", {"json": {"name": "ok", "n": 2}}),
    ("POST", "/items/a/raw", {"json": {"name": "ok", "n": 20}}),
    # methods and paths neither route has
    ("DELETE", "/items/a", {}),
    ("POST", "/numbers/1", {}),
]


def _view(r: httpx.Response) -> tuple[int, str | None, bytes]:
    return r.status_code, r.headers.get("content-type"), r.content


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_leanroute_answers_as_fastapi_does(
    http: httpx.AsyncClient, method: str, path: str, options: dict[str, Any]
) -> None:
    lean = await http.request(method, "/lean" + path, **options)
    fastapi = await http.request(method, "/fastapi" + path, **options)
    assert _view(lean) == _view(fastapi)


async def _plain(request: Request) -> str:
    return "plain"


def _sync_dep() -> str:
    return "sync"


async def _get_item_dep(request: Request, q: str | None = None) -> str:
    return "with a query"


async def _list_query(ids: list[str] = Query(default=[])) -> Response: ...
async def _optional_list_query(ids: list[str] | None = Query(None)) -> Response: ...
async def _header(agent: str | None = Header(None)) -> Response: ...
async def _cookie(session: str | None = Cookie(None)) -> Response: ...
async def _embedded_body(name: str = Body(..., embed=True)) -> Response: ...
async def _optional_body(body: Item | None = None) -> Response: ...
async def _sync_dependency(value: str = Depends(_sync_dep)) -> Response: ...
async def _dependency_with_query(value: str = Depends(_get_item_dep)) -> Response: ...
async def _two_bodies(a: Item, b: Item) -> Response: ...
async def _aliased(
    q: str | None = Query(None, validation_alias=AliasChoices("query", "q")),
) -> Response: ...
async def _returns_a_model(q: str | None = None) -> Item: ...
async def _takes_the_request(request: Request) -> Response: ...
def _sync_endpoint(q: str | None = None) -> Response: ...


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        (_list_query, "several values"),
        (_optional_list_query, "several values"),
        (_header, "header and cookie"),
        (_cookie, "header and cookie"),
        (_embedded_body, "embedded"),
        (_optional_body, "has a default"),
        (_sync_dependency, "async def dep"),
        (_dependency_with_query, "async def dep"),
        (_two_bodies, "more than one body"),
        (_aliased, "alias"),
        (_returns_a_model, "return a Response"),
        (_takes_the_request, "Request, Response"),
        (_sync_endpoint, "must be async"),
    ],
)
def test_leanroute_refuses_what_it_does_not_handle_when_declared(
    endpoint: Callable[..., Any], reason: str
) -> None:
    router = APIRouter(route_class=LeanRoute)
    with pytest.raises(TypeError, match=f"LeanRoute /x: .*{reason}"):
        router.add_api_route("/x", endpoint, methods=["POST"])
    APIRouter().add_api_route("/x", endpoint, methods=["POST"])  # FastAPI takes it


# -- remem's own lean routes, declared a second time with APIRoute in the real app -------------
WM = "/v1/working-memory"
LTM = "/v1/long-term-memory"
REAL_REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"{WM}/", {}),
    ("GET", f"{WM}/", {"params": {"namespace": "n", "limit": "1", "sort": "updated_at"}}),
    ("GET", f"{WM}/", {"params": {"limit": "0", "offset": "-1", "order": "up"}}),
    ("GET", f"{WM}/", {"params": {"offset": str(2**53)}}),
    ("GET", f"{WM}/s/1", {"params": {"namespace": "n"}}),
    ("GET", f"{WM}/s/1", {"params": {"namespace": "n", "recent_messages_limit": "1"}}),
    ("GET", f"{WM}/s/1", {"params": {"namespace": "n", "recent_messages_limit": "-1"}}),
    ("GET", f"{WM}/s/1", {"params": {"context_window_max": "0", "model_name": "gpt-4o"}}),
    ("GET", f"{WM}/s%2F1", {"params": {"namespace": "n"}}),
    ("GET", f"{WM}/nobody", {}),
    ("PUT", f"{WM}/s/2", {"json": {"messages": [{"role": "user"}]}}),
    ("PUT", f"{WM}/s/2", {"json": {"ttl_seconds": 10**12}}),
    ("PUT", f"{WM}/s/2", {"content": b'{"tokens": NaN}', "headers": JSON}),
    ("PUT", f"{WM}/s/2", {"content": b'{"messages": [', "headers": JSON}),
    ("PUT", f"{WM}/s/2", {"content": b'{"namespace": "\xff"}', "headers": JSON}),
    ("PUT", f"{WM}/s/2", {"content": b"", "headers": JSON}),
    ("PUT", f"{WM}/s/2", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    ("POST", f"{WM}/s/1/messages", {"json": {"messages": "hi"}}),
    ("POST", f"{WM}/s/1/messages", {"json": {}, "params": {"context_window_max": "x"}}),
    ("DELETE", f"{WM}/nobody", {"params": {"namespace": "n"}}),
    ("GET", f"{LTM}/m/1", {}),
    ("GET", f"{LTM}/m%2F1", {}),
    ("GET", f"{LTM}/nothing", {}),
    ("PATCH", f"{LTM}/m/1", {"json": {}}),
    ("PATCH", f"{LTM}/m/1", {"json": {"colour": "red"}}),
    ("PATCH", f"{LTM}/m/1", {"json": {"event_date": "10000-01-01T00:00:00Z"}}),
    ("PATCH", f"{LTM}/m/1", {"json": {"topics": "not a list"}}),
    ("PATCH", f"{LTM}/m/1", {"content": b'{"text": Infinity}', "headers": JSON}),
    ("PATCH", f"{LTM}/m/1", {"content": b"{", "headers": JSON}),
    ("PATCH", f"{LTM}/nothing", {"json": {"pinned": True}}),
    ("POST", f"{LTM}/search", {"json": {"text": "sky", "namespace": {"eq": "nobody"}}}),
    ("POST", f"{LTM}/search", {"json": {"text": "sky", "limit": 0, "search_mode": "x"}}),
    ("POST", f"{LTM}/search", {"json": {"namespace": {"eq": 5}}}),
    ("POST", f"{LTM}/search", {"content": b'{"text": NaN}', "headers": JSON}),
    ("POST", f"{LTM}/search", {"content": b"{", "headers": JSON}),
    ("POST", f"{LTM}/search", {"content": b"", "headers": JSON}),
    ("POST", f"{LTM}/search", {}),
]


@pytest.fixture
async def twin(settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, whose routes are also served under /fastapi as plain APIRoutes."""
    from remem.api.app import create_app
    from remem.api.routers import longterm, working

    app = create_app(settings)
    plain = APIRouter(prefix="/fastapi")
    for route in [*working.router.routes, *longterm.router.routes]:
        assert isinstance(route, APIRoute)
        plain.add_api_route(
            route.path,
            route.endpoint,
            methods=list(route.methods),
            response_model=route.response_model,
            route_class_override=APIRoute,
        )
    app.include_router(plain)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as client:
            session = {"namespace": "n", "messages": [{"role": "user", "content": "hello"}]}
            assert (await client.put(f"{WM}/s/1", json=session)).status_code == 200
            memory = {"memories": [{"id": "m/1", "text": "the sky is blue", "topics": ["sky"]}]}
            assert (await client.post(f"{LTM}/", json=memory)).status_code == 200
            yield client


async def test_remems_lean_routes_answer_as_fastapi_does(twin: httpx.AsyncClient) -> None:
    for method, path, options in REAL_REQUESTS:
        lean = await twin.request(method, path, **options)
        fastapi = await twin.request(method, "/fastapi" + path, **options)
        assert _view(lean) == _view(fastapi), (method, path, options)
