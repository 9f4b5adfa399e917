"""When tracing starts: only when the standard OTEL_* variables ask for it, with the extra
installed; off, no SDK provider and none of remem's spans."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from remem import tracing
from remem.api.app import create_app
from remem.config import Settings
from tests.tracing.conftest import scope_of


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_the_standard_variables_decide(env: dict[str, str], on: bool) -> None:
    assert tracing.wanted(env) is on


STARTUP = """
import json
from opentelemetry import trace
from remem import tracing
from remem.app import app_from_env
app_from_env()
provider = trace.get_tracer_provider()
resource = getattr(provider, "resource", None)
print(json.dumps({"on": tracing.on(), "provider": type(provider).__name__,
                  "service": resource.attributes.get("service.name") if resource else None}))
"""


def started(**otel: str) -> dict[str, object]:
    """What the app factory of a new process set up, with ``otel`` as its only OTEL_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(otel)
    done = subprocess.run(
        [sys.executable, "-c", STARTUP], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_without_otel_variables_startup_installs_no_provider() -> None:
    assert started() == {"on": False, "provider": "ProxyTracerProvider", "service": None}


def test_asked_for_startup_installs_the_sdk_provider_named_remem() -> None:
    found = started(OTEL_TRACES_EXPORTER="console")
    assert found == {"on": True, "provider": "TracerProvider", "service": "remem"}
    found = started(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_SERVICE_NAME="mem-a")
    assert found == {"on": True, "provider": "TracerProvider", "service": "mem-a"}


def test_asked_for_without_the_extra_warns_once_and_stays_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert not tracing.on()
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace.export", None)  # not installed
    with caplog.at_level(logging.WARNING, logger="remem.tracing"):
        assert tracing.setup(env={"OTEL_TRACES_EXPORTER": "otlp"}) is False
    assert not tracing.on()
    assert [r.getMessage() for r in caplog.records if "remem[otel]" in r.getMessage()]


async def test_off_remem_makes_no_spans(
    settings: Settings, every_span: InMemorySpanExporter
) -> None:
    """With an SDK provider in the process (the test run's) but tracing not started by remem,
    a search makes no HTTP, remem or Redis span."""
    assert not tracing.on()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            body = {"text": "green tea", "namespace": {"eq": "trace-ns"}}
            assert (await http.post("/v1/long-term-memory/search", json=body)).status_code == 200
    ours = {"remem", "opentelemetry.instrumentation.asgi", "opentelemetry.instrumentation.redis"}
    with trace.get_tracer("probe").start_as_current_span("probe"):
        pass  # the exporter listens: this one is kept
    found = every_span.get_finished_spans()
    assert [s.name for s in found if scope_of(s) in ours] == []
    assert [s.name for s in found if scope_of(s) == "probe"] == ["probe"]
