"""REMEM_LOG_FORMAT=json: one JSON object a line, each record of a request carrying its id,
a 500's record its error id; text lines end with the request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
from opentelemetry import trace

from remem.api.app import create_app
from remem.config import Settings
from remem.errors import BackendUnavailable
from remem.logs import JsonFormatter, RequestContext, TextFormatter, request_id


@contextmanager
def captured(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """What the root logger writes through remem's handler set-up with ``formatter``."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def _failing_app(settings: Settings) -> Any:
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("secret internals")

    async def down() -> None:
        raise BackendUnavailable("redis at 10.0.0.7:6379 refused the connection")

    app.add_api_route("/boom", boom)
    app.add_api_route("/down", down)
    return app


async def test_a_500s_record_carries_its_error_id_and_request_id(settings: Settings) -> None:
    app = await _failing_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            with captured(JsonFormatter()) as out:
                boom = await http.get("/boom", headers={"X-Request-ID": "req-boom"})
                down = await http.get("/down", headers={"X-Request-ID": "req-down"})
    assert boom.status_code == 500 and down.status_code == 503
    records = {r["request_id"]: r for r in lines(out) if r["logger"] == "remem.api"}
    unexpected, unavailable = records["req-boom"], records["req-down"]
    assert unexpected["error_id"] == boom.json()["error_id"]
    assert unexpected["level"] == "ERROR" and boom.json()["error_id"] in unexpected["message"]
    assert "RuntimeError: secret internals" in unexpected["exception"]
    assert unavailable["error_id"] == down.json()["error_id"]
    assert unavailable["level"] == "WARNING" and "10.0.0.7" in unavailable["message"]
    assert "exception" not in unavailable


def test_a_json_line_has_its_fields_and_only_those_that_apply() -> None:
    log = logging.getLogger("remem.test")
    with captured(JsonFormatter()) as out:
        log.warning("outside %s", "any request")
        token = request_id.set("r-1")
        try:
            log.warning("two\nlines")
        finally:
            request_id.reset(token)
    raw = out.getvalue().splitlines()
    assert len(raw) == 2  # a newline in a message stays within its line
    outside, inside = lines(out)
    assert set(outside) == {"time", "level", "logger", "message"}
    assert outside["message"] == "outside any request" and outside["logger"] == "remem.test"
    assert outside["time"].endswith("Z") and datetime.fromisoformat(outside["time"]).tzinfo
    assert inside["request_id"] == "r-1" and inside["message"] == "two\nlines"


def test_the_current_span_gives_trace_and_span_ids() -> None:
    context = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
        trace_flags=trace.TraceFlags(1),
    )
    log = logging.getLogger("remem.test")
    with captured(JsonFormatter()) as out:
        with trace.use_span(trace.NonRecordingSpan(context)):
            log.warning("in a span")
        log.warning("after it")
    in_span, after = lines(out)
    assert in_span["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert in_span["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in after and "span_id" not in after


def test_text_lines_end_with_the_request_id_in_a_request() -> None:
    log = logging.getLogger("remem.test")
    with captured(TextFormatter()) as out:
        log.warning("outside")
        token = request_id.set("r-2")
        try:
            log.warning("inside")
        finally:
            request_id.reset(token)
    assert out.getvalue().splitlines() == [
        "WARNING remem.test: outside",
        "WARNING remem.test: inside [r-2]",
    ]
