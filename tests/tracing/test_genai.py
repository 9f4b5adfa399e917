"""LLM calls and embeddings as GenAI spans (OpenTelemetry's GenAI semantic conventions):
``chat {model}`` with its token usage, an error status when it fails; no message text."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from remem import tracing
from remem.errors import LLMUnavailable
from remem.llm.client import LLMClient
from tests.llm_server import Answer, llm_server
from tests.tracing.conftest import attribute_texts


class Said(BaseModel):
    text: str = ""


async def test_a_chat_call_is_a_genai_span_with_token_usage(
    spans: InMemorySpanExporter,
) -> None:
    async with llm_server() as llm:
        llm.script(Answer.text("Bees live on the roof"))
        client = LLMClient(model="m-test", base_url=llm.base_url, max_retries=0)
        try:
            messages = [{"role": "user", "content": "where do the secret bees live"}]
            with tracing.TRACER.start_as_current_span("caller"):  # a root client span is dropped
                answer = await client.complete(messages, purpose="query")
            assert answer == "Bees live on the roof"
        finally:
            await client.aclose()
    (chat,) = [s for s in spans.get_finished_spans() if s.name == "chat m-test"]
    assert chat.kind == SpanKind.CLIENT
    (caller,) = [s for s in spans.get_finished_spans() if s.name == "caller"]
    assert chat.parent is not None and chat.parent.span_id == caller.context.span_id
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == attributes["gen_ai.system"] == "openai"
    assert attributes["gen_ai.request.model"] == "m-test"
    assert attributes["gen_ai.usage.input_tokens"] == 6  # the test server counts words
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["remem.llm.purpose"] == "query"
    assert attributes["server.address"] == "127.0.0.1"
    assert chat.status.status_code != StatusCode.ERROR
    texts = attribute_texts(list(spans.get_finished_spans()))
    assert "secret bees" not in texts and "roof" not in texts


async def test_a_failed_chat_call_is_an_error_span(spans: InMemorySpanExporter) -> None:
    async with llm_server() as llm:
        llm.script(Answer.error(500, message="scripted outage"))
        client = LLMClient(model="m-test", base_url=llm.base_url, max_retries=0)
        try:
            with pytest.raises(LLMUnavailable), tracing.TRACER.start_as_current_span("caller"):
                await client.complete_json([{"role": "user", "content": "hi"}], Said)
        finally:
            await client.aclose()
    (chat,) = [s for s in spans.get_finished_spans() if s.name == "chat m-test"]
    assert chat.status.status_code == StatusCode.ERROR
    assert (chat.attributes or {})["error.type"] == "InternalServerError"
    assert "gen_ai.usage.input_tokens" not in (chat.attributes or {})
