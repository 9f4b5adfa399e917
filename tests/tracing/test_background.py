"""Background work linked to the write that caused it: a PUT of messages stores its span's
traceparent in the session, and the extraction it makes due starts its span with a link to
it; the field never reaches an answer."""

from __future__ import annotations

import asyncio
import time

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from remem.config import Settings
from remem.runtime import Resources
from remem.store.working import Session

SCOPE = {"namespace": "trace-ns", "user_id": "u1"}


async def test_an_extraction_links_to_the_write_that_made_it_due(
    traced_client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    messages = [{"role": "user", "content": "I keep bees on the roof of the library"}]
    r = await traced_client.put("/v1/working-memory/s-linked", json={"messages": messages, **SCOPE})
    assert r.status_code == 200, r.text
    assert "trace_parent" not in r.json()
    (put,) = [s for s in spans.get_finished_spans() if s.name.startswith("PUT ")]
    deadline = time.monotonic() + 30
    while not [s for s in spans.get_finished_spans() if s.name == "remem.extract"]:
        assert time.monotonic() < deadline, "not extracted within 30 s"
        await asyncio.sleep(0.05)
    (extract,) = [s for s in spans.get_finished_spans() if s.name == "remem.extract"]
    assert [link.context.trace_id for link in extract.links] == [put.context.trace_id]
    assert [link.context.span_id for link in extract.links] == [put.context.span_id]
    assert extract.context.trace_id != put.context.trace_id  # its own trace, the task's
    assert extract.attributes == {"remem.extract.messages": 1, "remem.extract.memories": 1}
    creates = [s for s in spans.get_finished_spans() if s.name == "memory.create"]
    assert any(c.parent and c.parent.span_id == extract.context.span_id for c in creates)
    got = await traced_client.get("/v1/working-memory/s-linked", params=SCOPE)
    assert got.status_code == 200 and "trace_parent" not in got.json()
    assert "trace_parent" not in got.text


async def test_an_append_stores_its_traceparent_and_untraced_writes_store_none(
    settings: Settings, spans: InMemorySpanExporter
) -> None:
    from opentelemetry import trace

    from remem import tracing

    async with Resources(settings) as res:
        store = res.working.store
        session = Session("s-append", "u1", "trace-ns")
        doc = {"session_id": "s-append", "user_id": "u1", "namespace": "trace-ns",
               "messages": [], "memories": [], "created_at": 1.0, "updated_at": 1.0,
               "ttl_seconds": None, "expires_at": None}  # fmt: skip
        await store.put(session, doc)  # no current span: nothing stored
        assert (await store.strategy(session))[2] is None
        message = {"id": "m1", "role": "user", "content": "hello"}
        with tracing.TRACER.start_as_current_span("write") as span:
            await store.append(session, doc, [message], 2.0, "keep")
        context = span.get_span_context()
        flags = int(context.trace_flags)
        expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
        assert (await store.strategy(session))[2] == expected
        stored = await store.get(session)
        assert stored is not None and [m["id"] for m in stored["messages"]] == ["m1"]
        assert tracing.link_to(expected)[0].context.span_id == context.span_id
        assert tracing.link_to("garbage") == [] and tracing.link_to(None) == []
        assert trace.get_current_span().get_span_context().is_valid is False
