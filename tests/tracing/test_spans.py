"""Traces with the SDK's in-memory exporter: a search's parented tree (HTTP, memory.search,
Redis), its attributes without the query text, and the log line's trace id."""

from __future__ import annotations

import io
import json
import logging

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from remem import tracing
from remem.api.app import create_app
from remem.config import Settings
from remem.logs import handler
from tests.tracing.conftest import attribute_texts, scope_of

ASGI = "opentelemetry.instrumentation.asgi"
REDIS = "opentelemetry.instrumentation.redis"


def one(found: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [s for s in found if s.name == name]
    assert len(named) == 1, [s.name for s in found]
    return named[0]


async def test_a_search_is_a_tree_http_then_memory_search_then_redis(
    traced_client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    body = {"text": "green tea ceremony", "namespace": {"eq": "trace-ns"}, "limit": 7}
    r = await traced_client.post("/v1/long-term-memory/search", json=body)
    assert r.status_code == 200, r.text
    found = list(spans.get_finished_spans())
    http = one(found, "POST /v1/long-term-memory/search")
    assert scope_of(http) == ASGI and http.parent is None
    assert http.attributes and http.attributes["http.route"] == "/v1/long-term-memory/search"
    search = one(found, "memory.search")
    assert search.parent is not None and search.parent.span_id == http.context.span_id
    assert search.context.trace_id == http.context.trace_id
    assert search.attributes == {
        "remem.search.mode": "hybrid",
        "remem.search.limit": 7,
        "remem.search.results": 0,
    }
    redis_spans = [s for s in found if scope_of(s) == REDIS]
    assert redis_spans, [s.name for s in found]
    # The worker's poller reads Redis all along (every 50 ms here): those roots are dropped.
    assert all(s.parent is not None for s in redis_spans)
    under_search = [
        s for s in redis_spans if s.parent and s.parent.span_id == search.context.span_id
    ]
    assert under_search, [(s.name, s.parent) for s in redis_spans]
    assert any(s.name.startswith("FT.") or "FT." in s.name for s in under_search)
    embedded = one(found, f"embeddings {search_model(found)}")
    assert embedded.parent is not None and embedded.parent.span_id == search.context.span_id
    # No text a caller sent, no namespace: Redis statements are the command and "?"s.
    texts = attribute_texts(found)
    assert "green tea" not in texts and "trace-ns" not in texts
    statements = [str((s.attributes or {})["db.statement"]) for s in redis_spans]
    commands = [line.split() for text in statements for line in text.splitlines()]
    assert commands and all(set(words[1:]) <= {"?"} for words in commands), statements


def search_model(found: list[ReadableSpan]) -> str:
    names = [s.name for s in found if s.name.startswith("embeddings ")]
    assert names, [s.name for s in found]
    return names[0].removeprefix("embeddings ")


async def test_the_query_text_is_on_the_span_only_when_asked_for(
    traced_client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    tracing._state["content"] = True
    body = {"text": "green tea ceremony", "search_mode": "keyword"}
    r = await traced_client.post("/v1/long-term-memory/search", json=body)
    assert r.status_code == 200, r.text
    search = one(list(spans.get_finished_spans()), "memory.search")
    assert search.attributes and search.attributes["remem.search.query"] == "green tea ceremony"
    assert search.attributes["remem.search.mode"] == "keyword"


async def test_a_path_names_its_span_by_route_template_without_the_query(
    traced_client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    r = await traced_client.get("/v1/working-memory/secret-session-7?namespace=secret-ns")
    assert r.status_code == 404
    found = list(spans.get_finished_spans())
    http = one(found, "GET /v1/working-memory/{session_id:path}")
    assert http.attributes and http.attributes["http.status_code"] == 404
    assert "secret-ns" not in attribute_texts(found)


async def test_a_memory_create_counts_its_outcomes(
    traced_client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    memories = [{"text": "likes oolong", "namespace": "trace-ns"}]
    r = await traced_client.post("/v1/long-term-memory/", json={"memories": memories})
    assert r.status_code == 200, r.text
    found = list(spans.get_finished_spans())
    create = one(found, "memory.create")
    assert create.attributes == {"remem.memory.count": 1, "remem.memory.added": 1}
    http = one(found, "POST /v1/long-term-memory/")
    assert create.parent is not None and create.parent.span_id == http.context.span_id
    assert "oolong" not in attribute_texts(found)


async def test_a_log_line_carries_the_trace_id_of_its_request(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    out = io.StringIO()
    json_lines = handler("json")
    json_lines.setStream(out)  # type: ignore[attr-defined]
    logger = logging.getLogger("tests.tracing.logged")
    logger.addHandler(json_lines)

    async def logged() -> dict[str, str]:
        logger.warning("served")
        return {}

    app = create_app(settings)
    app.add_api_route("/logged", logged)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                assert (await http.get("/logged")).status_code == 200
    finally:
        logger.removeHandler(json_lines)
    line = json.loads(out.getvalue().splitlines()[0])
    served = one(list(spans.get_finished_spans()), "GET /logged")
    assert line["message"] == "served"
    assert line["trace_id"] == format(served.context.trace_id, "032x")
    assert line["span_id"] == format(served.context.span_id, "016x")
