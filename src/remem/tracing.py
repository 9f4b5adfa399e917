"""OpenTelemetry traces, an optional extra (``pip install 'remem[otel]'``), off unless the
standard ``OTEL_*`` variables ask for them (``wanted``).

remem's own spans use only the OpenTelemetry API (``TRACER``), which pydocket installs anyway:
without an SDK provider they are no-ops, and the code that makes them checks ``on()`` first,
so tracing that is off costs a boolean test. ``setup`` runs once a process, at start-up (the
app factory, ``remem worker``): it builds the SDK's provider with an OTLP/HTTP exporter (or
the console's, ``OTEL_TRACES_EXPORTER=console``) and makes it the process's. Redis is traced
per client (``instrument_redis``, called by ``store.connection`` for the clients remem opens,
not Docket's), HTTP by the ASGI instrumentation (``api.tracing``).

Spans carry counts and modes, never a message's or memory's text (``REMEM_TRACE_CONTENT``
turns on the search's query text) nor a namespace, user or session id. A client span without
a parent (the Redis reads of the pollers between requests) is dropped by the sampler: every
Redis span belongs to a request or a task.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

log = logging.getLogger(__name__)

TRACER = trace.get_tracer("remem")
SERVICE_NAME = "remem"  # OTEL_SERVICE_NAME's default
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_state = {"on": False, "content": False}


def on() -> bool:
    """Whether this process records traces (an SDK provider installed by remem)."""
    return _state["on"]


def content() -> bool:
    """Whether spans may carry text a caller sent (``REMEM_TRACE_CONTENT``)."""
    return _state["content"]


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for traces: ``OTEL_TRACES_EXPORTER`` set to other
    than ``none``, or an OTLP endpoint; never with ``OTEL_SDK_DISABLED=true``."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(exporter) or any(env.get(name, "").strip() for name in ENDPOINTS)


def setup(*, trace_content: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """Start tracing in this process when ``env`` (the process's environment) asks for it;
    whether it is on. Once a process: a later call only updates ``trace_content``."""
    _state["content"] = trace_content
    env = os.environ if env is None else env
    if _state["on"] or not wanted(env):
        return _state["on"]
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        log.warning(
            "OTEL_* variables ask for traces, but the otel extra is not installed "
            "(pip install 'remem[otel]'): no traces"
        )
        return False
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if exporter_name == "console":
        exporter: Any = ConsoleSpanExporter()
    else:
        if exporter_name != "otlp":
            log.warning("OTEL_TRACES_EXPORTER=%s: remem exports with otlp", exporter_name)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* itself
    install(provider([BatchSpanProcessor(exporter)], env=env))
    log.info("traces on, exported by %s", exporter_name)
    return True


def provider(processors: Sequence[SpanProcessor], *, env: Mapping[str, str] | None = None) -> Any:
    """An SDK provider (the otel extra) for remem: its service name (``OTEL_SERVICE_NAME``,
    else ``remem``), the sampler ``OTEL_TRACES_SAMPLER`` names behind ``Rooted``, and
    ``processors``."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider, sampling

    env = os.environ if env is None else env
    named = {} if env.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    chosen = sampling._get_from_env_or_default()
    made = TracerProvider(resource=Resource.create(named), sampler=_rooted(chosen))
    for processor in processors:
        made.add_span_processor(processor)
    return made


def install(made: TracerProvider) -> None:
    """Make ``made`` the process's provider and turn remem's spans on. OpenTelemetry takes a
    global provider once a process: tests install one with an in-memory exporter."""
    trace.set_tracer_provider(made)
    _state["on"] = True


def _rooted(inner: Any) -> Any:
    """A sampler dropping client spans without a parent, deferring the rest to ``inner``."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class Rooted(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Sequence[Link] | None = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            parent = trace.get_current_span(parent_context).get_span_context()
            if kind == SpanKind.CLIENT and not parent.is_valid:
                return SamplingResult(Decision.DROP)
            return inner.should_sample(  # type: ignore[no-any-return]
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"Rooted({inner.get_description()})"

    return Rooted()


def instrument_redis(client: Any) -> Any:
    """``client`` (a ``redis.asyncio.Redis``) with a span for each command and pipeline, when
    tracing is on; the statement is the command's name with its arguments as ``?``."""
    if _state["on"]:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor.instrument_client(client)
    return client


def traceparent() -> str | None:
    """The current span as a W3C ``traceparent``, when one is recording; else None (tracing
    off costs the test of a boolean)."""
    if not _state["on"]:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def link_to(parent: str | None) -> list[Link]:
    """A link to the span a ``traceparent`` names, or none (absent or malformed)."""
    parts = (parent or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return []
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return []
    linked = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))
    return [Link(linked)] if linked.is_valid else []
