"""Text no route can keep (lone UTF-16 surrogates, bytes that are not UTF-8, JSON nested past
``MAX_JSON_DEPTH``) is a 422 that says why, on every route, and nothing stored is lost.

Before ``remem.api.wellformed`` these were 500s: the tokenizer's ``TypeError: TextEncodeInput``
for a search or a memory, RedisJSON's "unexpected end of hex escape" and "recursion limit
exceeded" for a session, pydantic's "Maximum serialization depth exceeded"."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from remem.api.app import create_app
from remem.api.problems import is_managed
from remem.api.wellformed import MAX_JSON_DEPTH, body_error
from remem.config import Settings

JSON = {"content-type": "application/json"}
WM = "/v1/working-memory"
LTM = "/v1/long-term-memory"
LONE = "\\ud800"  # as a JSON escape, the way a client sends a lone surrogate
RAW_SURROGATE = b"\xed\xa0\x80"  # the same surrogate encoded as (invalid) UTF-8


def nested(depth: int) -> str:
    """A JSON object ``depth`` levels deep."""
    return '{"a":' * depth + "1" + "}" * depth


async def send(client: httpx.AsyncClient, method: str, path: str, body: str | bytes) -> Any:
    return await client.request(method, path, content=body, headers=JSON)


def the_error(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    return dict(error)


BODIES_WITH_A_STRING = [  # (method, path, body around %s: where a string goes)
    ("POST", f"{LTM}/search", '{"text": "%s"}'),
    ("PUT", f"{WM}/s", '{"messages": [{"role": "user", "content": "%s"}]}'),
    ("POST", f"{WM}/s/messages", '{"messages": [{"role": "user", "content": "%s"}]}'),
    ("PUT", f"{WM}/s", '{"messages": [], "data": {"k": "%s"}}'),
    ("PUT", f"{WM}/s", '{"messages": [], "data": {"%s": 1}}'),
    ("POST", f"{LTM}/", '{"memories": [{"text": "%s"}]}'),
    ("POST", f"{LTM}/", '{"memories": [{"text": "x", "metadata": {"k": "%s"}}]}'),
    ("PATCH", f"{LTM}/m", '{"text": "%s"}'),
    ("POST", "/v1/memory/prompt", '{"query": "%s"}'),
]


@pytest.mark.parametrize(("method", "path", "template"), BODIES_WITH_A_STRING)
async def test_a_lone_surrogate_escape_is_a_422_saying_so(
    client: httpx.AsyncClient, method: str, path: str, template: str
) -> None:
    error = the_error(await send(client, method, path, template % LONE))
    assert error["type"] == "string_unicode" and "lone UTF-16 surrogate (\\ud800)" in error["msg"]
    low = the_error(await send(client, method, path, template % "ok \\uDC00 then"))
    assert "(\\uDC00)" in low["msg"]


@pytest.mark.parametrize(("method", "path", "template"), BODIES_WITH_A_STRING)
async def test_a_surrogate_sent_as_raw_bytes_is_a_422_saying_so(
    client: httpx.AsyncClient, method: str, path: str, template: str
) -> None:
    body = (template % "ab@").encode().replace(b"@", RAW_SURROGATE)
    error = the_error(await send(client, method, path, body))
    assert error["type"] == "json_invalid" and error["loc"][0] == "body"
    assert "UTF-16 surrogate encoded as UTF-8" in error["ctx"]["error"], error


async def test_a_body_in_utf16_is_refused_as_not_utf8(client: httpx.AsyncClient) -> None:
    """json.loads reads UTF-16 too, lone surrogates included (as it does UTF-8's)."""
    body = '{"text": "sky"}'.encode("utf-16-le")
    error = the_error(await send(client, "POST", f"{LTM}/search", body))
    assert error["loc"] == ["body", 1] and "NUL byte" in error["ctx"]["error"]


async def test_pairs_and_escaped_backslashes_are_text_and_kept(client: httpx.AsyncClient) -> None:
    """A surrogate pair is a character (clients writing ASCII-only JSON send emoji so), and
    ``\\\\ud800`` is a backslash and five letters: both are stored as sent."""
    text = 'smile \\ud83d\\ude00, a path C:\\\\ud800 and a quote \\" [[['
    r = await send(client, "PUT", f"{WM}/s", '{"messages": [], "context": "' + text + '"}')
    assert r.status_code == 200, r.text
    assert (await client.get(f"{WM}/s")).json()["context"] == json.loads(f'"{text}"')


async def test_a_refused_write_loses_nothing_stored(client: httpx.AsyncClient) -> None:
    kept = {"messages": [{"role": "user", "content": "hello"}], "data": {"k": "v"}}
    assert (await client.put(f"{WM}/s", json=kept)).status_code == 200
    memory = {"id": "m", "text": "Ada drinks tea", "topics": ["tea"]}
    assert (await client.post(f"{LTM}/", json={"memories": [memory]})).status_code == 200
    for method, path, template in BODIES_WITH_A_STRING:
        assert (await send(client, method, path, template % LONE)).status_code == 422
    for body in (f'{{"messages": [], "data": {nested(150)}}}', '{"data": {"k": "\\udfff"}}'):
        assert (await send(client, "PUT", f"{WM}/s", body)).status_code == 422
    session = (await client.get(f"{WM}/s")).json()
    assert session["data"] == {"k": "v"} and session["messages"][0]["content"] == "hello"
    stored = (await client.get(f"{LTM}/m")).json()
    assert stored["text"] == "Ada drinks tea" and stored["topics"] == ["tea"]


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("PUT", f"{WM}/s", '{"messages": [], "data": %s}'),
        ("POST", f"{LTM}/", '{"memories": [{"text": "x", "metadata": %s}]}'),
        ("POST", f"{LTM}/search", '{"text": "x", "metadata": %s}'),
        ("PUT", f"{WM}/s", '{"memories": [{"text": "x", "metadata": %s}]}'),
    ],
)
async def test_json_nested_150_deep_is_a_422_saying_the_limit(
    client: httpx.AsyncClient, method: str, path: str, template: str
) -> None:
    error = the_error(await send(client, method, path, template % nested(150)))
    assert error["type"] == "json_too_deep"
    assert f"nested more than {MAX_JSON_DEPTH} deep" in error["msg"], error


async def test_the_depth_limit_is_the_whole_body_s_and_exact(client: httpx.AsyncClient) -> None:
    """The body's own object is level 1: ``data`` may nest ``MAX_JSON_DEPTH - 1`` levels, and
    brackets inside strings are text, not nesting."""
    deepest = nested(MAX_JSON_DEPTH - 1)
    body = '{"context": "' + "[{" * 200 + '", "data": ' + deepest + "}"
    r = await send(client, "PUT", f"{WM}/s", body)
    assert r.status_code == 200, r.text
    assert (await client.get(f"{WM}/s")).json()["data"] == json.loads(deepest)
    too_deep = '{"data": ' + nested(MAX_JSON_DEPTH) + "}"
    assert the_error(await send(client, "PUT", f"{WM}/s", too_deep))["type"] == "json_too_deep"
    lists = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    as_lists = '{"data": {"k": ' + lists + "}}"
    assert the_error(await send(client, "PUT", f"{WM}/s", as_lists))["type"] == "json_too_deep"


@pytest.mark.parametrize(
    ("body", "depth_ok"),
    [
        ('["\\"[[[[", ' + "[" * 64 + "]" * 64 + "]", False),  # an escaped quote hides no bracket
        ('["\\\\", ' + "[" * 62 + "]" * 62 + "]", True),  # an escaped backslash ends no string
        ('["]]]]]]]]]]]]]]]]]]]]", ' + "[" * 64 + "]" * 64 + "]", False),
        ("[" * 100_000, True),  # not JSON at all: the parser says so, not the depth
    ],
)
def test_the_depth_is_read_around_strings(body: str, depth_ok: bool) -> None:
    error = body_error(body.encode(), MAX_JSON_DEPTH)
    assert (error is None) == depth_ok, error


TRICKY = st.text(alphabet='[]{}"\\/\nu d8a0é😀', max_size=8)  # what may fool a scan
VALUES = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return 1 + max((depth_of(v) for v in items), default=0)
    return 0


@given(value=VALUES, ascii_only=st.booleans(), limit=st.integers(1, 6))
def test_the_depth_read_from_bytes_is_the_parsed_depth(
    value: Any, ascii_only: bool, limit: int
) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    error = body_error(body, limit)
    assert (error is not None) == (depth_of(value) > limit), (body, error)


@pytest.mark.parametrize(
    ("path", "part"),
    [
        (f"{WM}/?namespace=%ED%A0%80", "query"),
        (f"{WM}/s?user_id=a%FFb", "query"),
        (f"{WM}/%ED%A0%80", "path"),
        (f"{LTM}/m%C3", "path"),
    ],
)
async def test_a_url_that_is_not_utf8_is_a_422_not_replacement_characters(
    client: httpx.AsyncClient, path: str, part: str
) -> None:
    """Starlette decodes such a URL with U+FFFD for each bad byte: a session was stored as
    ``\\ufffd\\ufffd\\ufffd``."""
    error = the_error(await client.get(path))
    assert error["loc"] == [part] and "not UTF-8 once percent-decoded" in error["msg"], error
    assert (await client.get(f"{WM}/?namespace=%C3%A9t%C3%A9")).status_code == 200


# -- every route of the OpenAPI document, so a new one is covered --------------------------------
def operations(settings: Settings) -> list[tuple[str, str, bool]]:
    """(method, path with its parameters filled, takes a body) of every operation the app
    documents."""
    found = []
    for path, methods in create_app(settings).openapi()["paths"].items():
        for method, operation in methods.items():
            filled = path
            for p in operation.get("parameters", []):
                if p["in"] == "path":
                    filled = filled.replace("{" + p["name"] + "}", "x")
            found.append((method.upper(), filled, "requestBody" in operation))
    return found


async def test_every_route_refuses_each_kind_with_a_422(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    swept = operations(settings)
    assert len([op for op in swept if op[2]]) >= 10  # the enumeration works
    bodies = {
        "escaped surrogate": '{"text": "\\ud800", "query": "\\ud800", "user_id": "\\ud800"}',
        "raw surrogate": b'{"text": "\xed\xa0\x80"}',
        "nested 150 deep": f'{{"data": {nested(150)}, "metadata": {nested(150)}}}',
    }
    for method, path, takes_body in swept:
        refused = 400 if is_managed(path) else 422  # the managed API's paths: its 400
        for kind, body in bodies.items() if takes_body else ():
            r = await send(client, method, path, body)
            assert r.status_code == refused and r.json()["detail"], (method, path, kind, r.text)
        r = await client.request(method, path + "?namespace=%ED%A0%80&user_id=%ED%A0%80")
        assert r.status_code == refused, (method, path, r.text)
        assert method == "HEAD" or r.json()["detail"], (method, path, r.text)  # HEAD: no body
