"""GET /metrics: the Prometheus text format, read back with prometheus-client's own parser,
moved by what the server does (a search, an extraction, a failing LLM call)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from tests.llm_server import Answer, llm_server
from tests.serving import free_port

SCOPE = {"namespace": "metrics-ns", "user_id": "u1"}


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: httpx.AsyncClient) -> Samples:
    """Every sample of GET /metrics, by name and labels, parsed by prometheus-client."""
    r = await http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    quick = settings.model_copy(
        update={"extraction_debounce_seconds": 0.2, "task_poll_seconds": 0.05}
    )
    app = create_app(quick)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http


async def test_a_search_moves_its_histogram_and_routes_are_templates(
    app_client: httpx.AsyncClient,
) -> None:
    before = await scrape(app_client)
    for mode in ("hybrid", "keyword"):
        body = {"text": "green tea", "search_mode": mode, "namespace": {"eq": "metrics-ns"}}
        r = await app_client.post("/v1/long-term-memory/search", json=body)
        assert r.status_code == 200, r.text
    assert (await app_client.get("/v1/working-memory/no-such-session-42")).status_code == 404
    after = await scrape(app_client)
    for mode in ("hybrid", "keyword"):
        name = "remem_search_duration_seconds_count"
        assert value(after, name, mode=mode) == value(before, name, mode=mode) + 1
        name = "remem_search_results_count"
        assert value(after, name, mode=mode) == value(before, name, mode=mode) + 1
    search = {"method": "POST", "route": "/v1/long-term-memory/search", "status": "200"}
    assert value(after, "http_requests_total", **search) >= 2
    template = "/v1/working-memory/{session_id:path}"
    missing = {"method": "GET", "route": template, "status": "404"}
    assert value(after, "http_requests_total", **missing) >= 1
    labels = {str(dict(k[1])) for k in after}
    assert not any("no-such-session-42" in text for text in labels)  # never the raw path
    assert not any("metrics-ns" in text for text in labels)  # never a namespace
    timed = {"method": "GET", "route": template}
    assert value(after, "http_request_duration_seconds_count", **timed) >= 1


async def test_a_write_through_working_memory_moves_the_lag_once_extracted(
    app_client: httpx.AsyncClient,
) -> None:
    before = await scrape(app_client)
    messages = [{"role": "user", "content": "I keep bees on the roof of the library"}]
    r = await app_client.put("/v1/working-memory/lag-session", json={"messages": messages, **SCOPE})
    assert r.status_code == 200, r.text
    body = {"text": "bees", "namespace": {"eq": "metrics-ns"}}
    deadline = time.monotonic() + 30
    while not (await app_client.post("/v1/long-term-memory/search", json=body)).json()["total"]:
        assert time.monotonic() < deadline, "not extracted within 30 s"
        await asyncio.sleep(0.05)
    after = await scrape(app_client)
    lag = "remem_extraction_lag_seconds_count"
    assert value(after, lag) == value(before, lag) + 1
    # from the write: at least the debounce, at most the wait
    took = value(after, "remem_extraction_lag_seconds_sum") - value(
        before, "remem_extraction_lag_seconds_sum"
    )
    assert 0.2 <= took < 30
    runs = "remem_task_runs_total"
    assert (
        value(after, runs, kind="extract", outcome="ok")
        >= value(before, runs, kind="extract", outcome="ok") + 1
    )
    added = "remem_memory_writes_total"
    assert value(after, added, outcome="added") >= value(before, added, outcome="added") + 1
    embedded = [k for k in after if k[0] == "remem_embedding_batch_size_count"]
    assert embedded and all(after[k] > 0 for k in embedded)


async def test_a_failing_llm_moves_the_failure_counter(settings: Settings) -> None:
    async with llm_server() as llm:
        llm.script(*[Answer.error(500, message="scripted outage")] * 4)
        update = {"llm_base_url": llm.base_url, "llm_model": "m-test", "llm_max_retries": 0}
        app = create_app(settings.model_copy(update=update))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                before = await scrape(http)
                body = {"text": "what does she do?", "namespace": {"eq": "metrics-ns"}}
                r = await http.post("/v1/long-term-memory/search?optimize_query=true", json=body)
                assert r.status_code == 200, r.text  # the original text, searched
                after = await scrape(http)
    failed = {"model": "m-test", "purpose": "query", "outcome": "failed"}
    name = "remem_llm_calls_total"
    assert value(after, name, **failed) >= value(before, name, **failed) + 1
    timed = "remem_llm_call_duration_seconds_count"
    assert value(after, timed, model="m-test", purpose="query") >= 1


async def test_metrics_can_be_switched_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            assert (await http.get("/metrics")).status_code == 404


async def test_the_due_backlog_is_read_from_the_due_set(resources: Resources) -> None:
    """Work marked due two minutes ago shows its age; with nothing due both read 0."""
    due = resources.working.store.due
    assert await due.backlog() == (0, 0.0)
    key = resources.keys.working_memory("old-session", "u1", "metrics-ns")
    await due.mark("extract", key, -120)
    waiting, age = await due.backlog()
    assert waiting == 1 and 110 < age < 600
    await due.remove(f"extract:{key}")
    assert await due.backlog() == (0, 0.0)


def test_several_server_processes_answer_with_every_process_counted(tmp_path: Path) -> None:
    """``remem serve --workers 2``: one /metrics answer adds up both processes' requests (the
    client's multiprocess mode, in a directory serve makes and removes)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMEM_", "PROMETHEUS"))}
    env |= {"REMEM_DATA_DIR": str(tmp_path / "data"), "REMEM_PORT": str(port)}
    command = [sys.executable, "-c", "from remem.cli import main; main()", "serve"]
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([*command, "--workers", "2"], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        n = 40
        for _ in range(n):  # new connections: the kernel spreads them over both processes
            assert httpx.get(f"{base}/v1/health", timeout=5).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=5).text
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        health = {"method": "GET", "route": "/v1/health", "status": "200"}
        assert value(samples, "http_requests_total", **health) >= n
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


async def test_a_method_no_route_knows_is_counted_as_other(
    app_client: httpx.AsyncClient,
) -> None:
    """A client may send any token as its method: it never becomes a label of its own."""
    r = await app_client.request("BREW", "/v1/health")
    assert r.status_code == 405
    after = await scrape(app_client)
    other = {"method": "other", "route": "/v1/health", "status": "405"}
    assert value(after, "http_requests_total", **other) >= 1
    assert not any(dict(k[1]).get("method") == "BREW" for k in after)


def start_worker(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    command = [sys.executable, "-c", "from remem.cli import main; main()", "worker"]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(command, env=env, stdout=log, stderr=log), log


async def test_a_worker_serves_its_own_metrics_on_loopback(
    settings: Settings, tmp_path: Path
) -> None:
    """``remem worker`` with REMEM_WORKER_METRICS_PORT: the extraction it ran for a session
    written through a server without a worker is counted on its own /metrics."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMEM_", "PROMETHEUS"))}
    env |= {
        "REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        "REMEM_DATA_DIR": str(tmp_path / "unused"),
        "REMEM_EXTRACTION_DEBOUNCE_SECONDS": "0.2",
        "REMEM_TASK_POLL_SECONDS": "0.05",
        "REMEM_WORKER_METRICS_PORT": str(port),
    }
    proc, log = start_worker(env, tmp_path / "worker.log")
    url = f"http://127.0.0.1:{port}/metrics"
    ok = {"kind": "extract", "outcome": "ok"}
    try:
        app = create_app(settings.model_copy(update={"run_worker": False}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
                body = {"messages": [{"role": "user", "content": "my cat is called Miso"}]}
                r = await http.put("/v1/working-memory/w-1", json={**body, **SCOPE})
                assert r.status_code == 200, r.text
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()
                try:
                    text = (await http.get(url, timeout=2)).text
                except httpx.HTTPError:
                    text = ""
                samples = {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                }
                if value(samples, "remem_task_runs_total", **ok) >= 1:
                    break
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                await asyncio.sleep(0.2)
        assert value(samples, "remem_extraction_lag_seconds_count") >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
