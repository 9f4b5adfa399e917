"""What a running remem counts, for ``GET /metrics`` (Prometheus text format, with the official
``prometheus-client``).

Every label takes a bounded set of values, so the number of series stays fixed however many
tenants, sessions or memories there are: HTTP routes are templates (``/v1/working-memory/
{session_id}``, never the raw path), memory outcomes, search modes, task kinds, LLM purposes and
auth failure reasons are short fixed lists, and the model label is the configured model's name.
No namespace, user, session, token or text is ever a label.

One process, one set of counters. With several processes on one machine (``remem serve
--workers N``), ``PROMETHEUS_MULTIPROC_DIR`` makes the client keep its values in files there and
``/metrics`` add up every process's (the client's multiprocess mode; ``remem serve`` sets it for
its workers when it is unset): see docs/operations.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds: from a fast Redis read to an LLM call or a slow search.
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Seconds from a message's write to its memory being searchable (debounce included).
LAG = (0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 30, 60, 120, 300, 600, 1800)
COUNTS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY,
)
SEARCHES = Histogram(
    "remem_search_duration_seconds",
    "Long-term memory searches, by mode (the one run: a search naming none runs hybrid).",
    ["mode"],
    buckets=LATENCY,
)
SEARCH_RESULTS = Histogram(
    "remem_search_results", "Memories a search returned, by mode.", ["mode"], buckets=COUNTS
)
WRITES = Counter(
    "remem_memory_writes",
    "Long-term memories written, by outcome: added, updated, merged (into another), and "
    "besides, distinct (kept beside similar ones) and superseding (marked older versions no "
    "longer true). A refused write is a 4xx of its route in http_requests_total.",
    ["outcome"],
)
EMBEDDINGS = Histogram(
    "remem_embedding_duration_seconds",
    "Time to embed one batch of texts, by model.",
    ["model"],
    buckets=LATENCY,
)
EMBEDDING_BATCH = Histogram(
    "remem_embedding_batch_size", "Texts per embedding batch, by model.", ["model"], buckets=COUNTS
)
DUE = Gauge(
    "remem_due_work",
    "Background work waiting in the due set (sessions to extract, promote or summarise), "
    "read from Redis at each scrape.",
    multiprocess_mode="mostrecent",
)
DUE_OLDEST = Gauge(
    "remem_due_oldest_age_seconds",
    "How long the oldest due work has been due (0 when none), read at each scrape.",
    multiprocess_mode="mostrecent",
)
LAG_SECONDS = Histogram(
    "remem_extraction_lag_seconds",
    "From a message's write to its memory's, for messages extracted (the time until it is "
    "searchable).",
    buckets=LAG,
)
TASKS = Counter(
    "remem_task_runs",
    "Background task runs, by kind and outcome (ok, failed: to be retried or given up).",
    ["kind", "outcome"],
)
RETRIES = Counter(
    "remem_task_retries",
    "Task runs that retry a failed attempt, by kind.",
    ["kind"],
)
REDELIVERIES = Counter(
    "remem_task_redeliveries",
    "Task runs taken over from a worker that stopped renewing its claim, by kind.",
    ["kind"],
)
LLM_CALLS = Counter(
    "remem_llm_calls",
    "Chat completion calls, by model, purpose (extraction, dedup, summary, query) and outcome "
    "(ok, failed).",
    ["model", "purpose", "outcome"],
)
LLM_TOKENS = Counter(
    "remem_llm_tokens",
    "Tokens the LLM reported, by model, purpose and kind (prompt, completion).",
    ["model", "purpose", "kind"],
)
LLM_DURATION = Histogram(
    "remem_llm_call_duration_seconds",
    "Time of a chat completion call (retries included), by model and purpose.",
    ["model", "purpose"],
    buckets=LATENCY,
)
REDIS_ERRORS = Counter(
    "remem_redis_errors",
    "Redis calls that failed for want of Redis (connection refused or lost, timeout).",
)
UNAVAILABLE = Counter(
    "remem_unavailable_answers",
    "Requests answered 503 because a backend was unavailable, by backend (redis, embeddings, llm).",
    ["backend"],
)
AUTH_FAILURES = Counter(
    "remem_auth_failures",
    "Requests refused by authentication (missing, malformed, expired, revoked, unknown or "
    "refused credentials) or authorisation (forbidden), by reason.",
    ["reason"],
)
AUTH_REASONS = ("missing", "malformed", "expired", "revoked", "unknown")
BACKENDS = {"embedding_unavailable": "embeddings", "llm_unavailable": "llm"}


def count_refusal(code: str, status: int, detail: str) -> None:
    """Count an error answer of remem's (``remem.errors``) that the metrics follow: auth
    refusals by a reason read from the detail, 503s by backend."""
    if status == 401:
        reason = next((r for r in AUTH_REASONS if r in detail.lower()), "refused")
        AUTH_FAILURES.labels(reason).inc()
    elif status == 403:
        AUTH_FAILURES.labels("forbidden").inc()
    elif status == 503:
        UNAVAILABLE.labels(BACKENDS.get(code, "redis")).inc()


@contextmanager
def task_run(kind: str, *, attempt: int = 1, redelivered: bool = False) -> Iterator[None]:
    """Count the block as a run of a ``kind`` task: ok, or failed when it raises (the retry,
    if any, is a run of its own)."""
    if attempt > 1:
        RETRIES.labels(kind).inc()
    if redelivered:
        REDELIVERIES.labels(kind).inc()
    try:
        yield
    except BaseException:
        TASKS.labels(kind, "failed").inc()
        raise
    TASKS.labels(kind, "ok").inc()


@contextmanager
def counted_call(model: str, purpose: str) -> Iterator[None]:
    """Count the block as an LLM call: ok, or failed when it raises."""
    try:
        yield
    except BaseException:
        LLM_CALLS.labels(model, purpose, "failed").inc()
        raise
    LLM_CALLS.labels(model, purpose, "ok").inc()


@contextmanager
def timed(histogram: Histogram, *labels: str) -> Iterator[None]:
    """Observe the block's duration in ``histogram`` (with ``labels``), whatever its end."""
    started = time.perf_counter()
    try:
        yield
    finally:
        child = histogram.labels(*labels) if labels else histogram
        child.observe(time.perf_counter() - started)


def registry() -> CollectorRegistry:
    """This process's metrics, or, in multiprocess mode, every process's."""
    directory = os.environ.get(MULTIPROC_DIR)
    if not directory:
        return DEFAULT_REGISTRY
    from prometheus_client import multiprocess

    gathered = CollectorRegistry()
    multiprocess.MultiProcessCollector(gathered, path=directory)  # type: ignore[no-untyped-call]
    return gathered


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve ``/metrics`` on ``host:port`` from a thread (``remem worker``, which has no API:
    the client's own small HTTP server, no auth, so a loopback address by default)."""
    start_http_server(port, addr=host, registry=registry())


def exposition() -> bytes:
    """The text a scrape gets: this process's metrics, or every process's in multiprocess
    mode."""
    return generate_latest(registry())
