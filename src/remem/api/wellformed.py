"""``WellFormed``: a pure ASGI middleware that refuses, before any route runs, a request whose
text no route could keep, with a 422 in FastAPI's shape saying what and where:

- a JSON body that is not UTF-8 (raw bytes that do not decode, among them a UTF-16 surrogate
  encoded as UTF-8, which Python's ``json.loads`` lets through as a lone surrogate), or that
  is UTF-16 or UTF-32, which JSON between systems must not be (RFC 8259);
- a JSON body with a lone UTF-16 surrogate escape (``"\\ud800"``): JSON's grammar allows it,
  but it is no character, so no encoder can write it (the embedding model's tokenizer, Redis's
  and the JSON module's parsers all failed on it, a 500);
- a JSON body nested deeper than ``MAX_JSON_DEPTH`` arrays and objects (see there);
- a query string or path that is not UTF-8 once percent-decoded (``%ED%A0%80``): Starlette
  would have turned it into replacement characters and stored those instead.

One check for every route, REST and MCP alike, so a new route is covered without a line of its
own. Nothing is written before the check, so a refused request loses nothing already stored.

What it costs: the body is read whole before the route reads it (every route reads it whole
anyway), then looked at in C passes (bytes methods and one regular expression), no parse: a
decode when it is not ASCII, one ``translate`` to its outline (brackets, quotes, escapes), and
what follows on the outline, a small fraction of the body. Measured on two busy cores: 2 µs for
a 1 KB body (``json.loads`` takes 5), 40-60 µs for a 27 KB session of 100 messages (``loads``
70-85), 2-3% of that PUT's CPU.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from remem.api.errors import not_utf8
from remem.api.problems import is_managed, validation_problem

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects in a request body, the body's own braces included.
Measured: RedisJSON refuses a document nested 128 levels deep ("recursion limit exceeded"; a
session's ``data`` 127 deep was a 500) and pydantic stops serialising between 200 and 260
("Maximum serialization depth exceeded"). A session keeps ``data`` one level down and a
memory's ``metadata`` three, so 64 keeps every stored document well within both, and leaves a
free-form ``data`` or ``metadata`` some 60 levels, more than any real one uses."""

_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
# The outline of a body: its brackets, quotes and backslashes, each backslash with the byte it
# escapes (one of these in JSON), so escaped quotes still tell from the quotes around strings.
_TEXT = bytes(b for b in range(256) if b not in b'{}[]"\\/bfnrtu')
_OPEN_CLOSE = bytes.maketrans(b"{[}]", b"(())")
_NOT_SHAPE = bytes(b for b in range(256) if b not in b'{}[]"')
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})  # no route reads one: not waited for


class WellFormed:
    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = url_error(scope)
        if error is None and scope["method"] not in _NO_BODY and _json_body(scope):
            message = await _whole_body(receive)
            receive = _replaying(message, receive)
            if message["type"] == "http.request":
                error = body_error(message.get("body", b""), self.max_depth)
        if error is not None:
            answer = JSONResponse(status_code=422, content={"detail": [error]})
            if is_managed(scope.get("path", "")):  # the managed API's 400 naming the field
                answer = validation_problem([error])
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _json_body(scope: Scope) -> bool:
    """The request says its body is JSON, or says nothing (some routes then read it as JSON):
    what the routes parse as JSON, and nothing else, is checked."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media: bytes = value.partition(b";")[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


async def _whole_body(receive: Receive) -> Message:
    """The body's messages as one (or the disconnect that cut it short)."""
    message = await receive()
    chunks = [message.get("body", b"")]
    while message["type"] == "http.request" and message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    if message["type"] != "http.request" or len(chunks) == 1:
        return message
    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _replaying(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that gives ``first`` again, then the client's next messages."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def body_error(body: bytes, max_depth: int) -> dict[str, Any] | None:
    """What makes ``body`` unfit to be read as JSON text, as a FastAPI error; None if nothing."""
    if not body.isascii() or 0 in body[:4]:
        error = _utf8_error(body)
        if error is not None:
            return error
    outline = body.translate(None, _TEXT)
    if b"\\u" in outline and _SURROGATE.search(body) is not None:  # maybe: read it exactly
        error = _surrogate_error(_unescaped(body))
        if error is not None:
            return error
    opening = outline.count(b"{") + outline.count(b"[")
    if opening > max_depth and _nesting(outline, max_depth) > max_depth:
        return {
            "type": "json_too_deep",
            "loc": ["body"],
            "msg": f"arrays and objects nested more than {max_depth} deep; at most {max_depth} "
            "(remem.api.wellformed.MAX_JSON_DEPTH)",
            "input": {},
        }
    return None


def _unescaped(text: bytes) -> bytes:
    """``text`` without its escaped backslashes and quotes: every quote left opens or closes a
    string, and every backslash left begins an escape."""
    return text.replace(b"\\\\", b"").replace(b'\\"', b"")


def _utf8_error(body: bytes) -> dict[str, Any] | None:
    if 0 in body[:4]:  # json.loads would read it as UTF-16 or UTF-32
        reason = f"not UTF-8: a NUL byte at byte {body.index(0)}, as UTF-16 and UTF-32 have"
        return not_utf8(body.index(0), reason)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return not_utf8(exc.start, f"not UTF-8: {_why(body, exc)} at byte {exc.start}")
    return None


def _why(data: bytes, exc: UnicodeDecodeError) -> str:
    lead = data[exc.start : exc.start + 2]
    if len(lead) == 2 and lead[0] == 0xED and 0xA0 <= lead[1] <= 0xBF:
        return "a UTF-16 surrogate encoded as UTF-8, which UTF-8 does not allow"
    return exc.reason


def _surrogate_error(text: bytes) -> dict[str, Any] | None:
    """A ``\\uD800``-``\\uDFFF`` escape that is not half of a pair (``text`` is unescaped,
    so every ``\\u`` left in it is an escape)."""
    lone = _SURROGATE.search(_PAIR.sub(b"", text))
    if lone is None:
        return None
    escape = lone.group().decode()
    return {
        "type": "string_unicode",
        "loc": ["body"],
        "msg": f"a lone UTF-16 surrogate ({escape}) in a string: it is no character, so it "
        "cannot be stored; a surrogate is only valid as the first or second half of a pair",
        "input": {},
    }


def _nesting(outline: bytes, limit: int) -> int:
    """How deep arrays and objects nest in the body ``outline`` keeps the shape of, counted up
    to one past ``limit``: strings that hold no bracket go as ``""``, the brackets inside the
    others with them, and each pass then drops the innermost pairs of brackets."""
    if b"\\" in outline:
        outline = _unescaped(outline)
    shape = outline.translate(_OPEN_CLOSE, _NOT_SHAPE).replace(b'""', b"")
    if b'"' in shape:
        shape = b"".join(shape.split(b'"')[::2])
    depth = 0
    while b"()" in shape and depth <= limit:
        shape = shape.replace(b"()", b"")
        depth += 1
    return depth


def url_error(scope: Scope) -> dict[str, Any] | None:
    """A query string or path that is not UTF-8 once percent-decoded, as a FastAPI error."""
    path = (scope.get("raw_path") or b"").partition(b"?")[0]  # httpx's test transport: with it
    for part, raw in (("query", scope.get("query_string", b"")), ("path", path)):
        if raw.isascii() and b"%" not in raw:
            continue
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return {
                "type": "string_unicode",
                "loc": [part],
                "msg": f"the {part} is not UTF-8 once percent-decoded: {exc.reason} at "
                f"byte {exc.start}",
                "input": raw.decode("latin-1"),
            }
    return None
