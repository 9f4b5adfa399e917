"""One SDK provider for the whole test run, with an in-memory exporter each test empties:
OpenTelemetry takes a global provider once a process. remem's spans are on only while a test
of this directory runs (``traced``), so the rest of a run is left as tracing off leaves it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from remem import tracing
from remem.api.app import create_app
from remem.config import Settings

_exporter = InMemorySpanExporter()


class WhileOn(SimpleSpanProcessor):
    """Keeps spans only while a test of this directory runs (``every``: whether remem's
    tracing is on or not): the provider outlives them, and pydocket's spans in the rest of
    the run would pile up in memory."""

    every = False

    def on_end(self, span: ReadableSpan) -> None:
        if tracing.on() or WhileOn.every:
            super().on_end(span)


@pytest.fixture(scope="session")
def provider() -> Iterator[InMemorySpanExporter]:
    tracing.install(tracing.provider([WhileOn(_exporter)]))
    tracing._state["on"] = False  # on for the tests that ask for ``spans``
    yield _exporter


@pytest.fixture
def every_span(provider: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The exporter, emptied, keeping every span while remem's tracing stays off."""
    WhileOn.every = True
    provider.clear()
    yield provider
    WhileOn.every = False
    provider.clear()


@pytest.fixture
def spans(provider: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The exporter, emptied, with remem's spans on for the test."""
    tracing._state["on"] = True
    provider.clear()
    yield provider
    provider.clear()
    tracing._state["on"] = False
    tracing._state["content"] = False


@pytest.fixture
async def traced_client(
    settings: Settings, spans: InMemorySpanExporter
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, built with traces on, over ASGI transport (lifespan included)."""
    quick = settings.model_copy(
        update={"extraction_debounce_seconds": 0.2, "task_poll_seconds": 0.05}
    )
    app = create_app(quick)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http


def scope_of(span: ReadableSpan) -> str:
    return span.instrumentation_scope.name if span.instrumentation_scope else ""


def attribute_texts(finished: list[ReadableSpan]) -> str:
    """Every span's name and attribute values, as one text to search."""
    parts = []
    for span in finished:
        parts.append(span.name)
        parts.extend(str(v) for v in (span.attributes or {}).values())
    return "\n".join(parts)
