"""What normal operation logs about retried tasks: an expected retry (summarisation waiting for
extraction, the LLM failing for a while) is one line at INFO or WARNING, without a traceback; an
unforeseen exception keeps Docket's ERROR and traceback, and so does a task that runs out of
retries.

The app's real worker on real Redis, the LLM over real HTTP (tests/llm_server.py); the records
are read from caplog as the process logged them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from docket import Docket, ExponentialRetry, Worker
from fastapi import FastAPI

from remem.api.app import create_app
from remem.background.extraction import Batch, VerbatimExtractor
from remem.config import Settings
from remem.errors import LLMUnavailable
from remem.logs import quiet_expected_retries
from remem.models.memory import MemoryRecord
from remem.tasks.jobs import EXPECTED_RETRIES
from tests.helpers import wait_until
from tests.lifecycle.test_summarization import (
    SCOPE,
    WINDOW,
    WM,
    HeldExtraction,
    covered,
    folding,
    turn,
)
from tests.llm_server import Answer, FakeLLM, llm_server

RETRIED = "docket.dependencies"  # Docket's logger of a failed attempt it will retry


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with llm_server() as server:
        server.respond = folding
        yield server


@pytest.fixture
async def app(quick: Settings, llm: FakeLLM) -> AsyncIterator[FastAPI]:
    """The app with an LLM the SDK retries once; extraction without it (verbatim) and no
    dedup judge, so only the summariser calls it."""
    settings = quick.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": "m", "llm_max_retries": 1}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.resources.lifecycle.extraction.extractor = VerbatimExtractor()
        app.state.resources.long_term.dedup.judge = None
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://remem") as client:
        yield client


async def write_past_the_threshold(http: httpx.AsyncClient, sid: str) -> None:
    body = {**SCOPE, "messages": [turn(i) for i in range(30)]}
    r = await http.put(f"{WM}/{sid}", json=body, params=WINDOW)
    assert r.status_code == 200, r.text


async def summarised(http: httpx.AsyncClient, sid: str) -> None:
    async def probe() -> bool:
        doc = (await http.get(f"{WM}/{sid}", params=SCOPE)).json()
        return bool(covered(doc["context"]))

    await wait_until(probe, timeout=20)


def retried(caplog: pytest.LogCaptureFixture, kind: str) -> list[logging.LogRecord]:
    """Docket's records of attempts failed with ``kind`` that it retries."""
    return [r for r in caplog.records if r.name == RETRIED and f": {kind}: " in r.getMessage()]


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing at ERROR, no traceback."""
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [f"{r.levelname} {r.name}: {r.getMessage()}" for r in loud]


async def test_summarisation_waiting_for_extraction_logs_info(
    app: FastAPI, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    held = HeldExtraction()
    app.state.resources.lifecycle.extraction.extractor = held
    await write_past_the_threshold(http, "held")

    async def waited() -> bool:
        return bool(retried(caplog, "NotExtractedYet"))

    try:
        await wait_until(waited, timeout=10)
    finally:
        held.release.set()
    await summarised(http, "held")
    waiting = retried(caplog, "NotExtractedYet")
    assert {r.levelno for r in waiting} == {logging.INFO}
    assert "will be retried: NotExtractedYet: " in waiting[0].getMessage()
    assert_quiet(caplog)


async def test_a_failing_llm_logs_warnings_until_it_answers(
    http: httpx.AsyncClient, llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    """Two 500s: the SDK's own retry (INFO), then the task's (WARNING, one line); a 500 then
    a summary: the SDK's retry only."""
    caplog.set_level(logging.INFO)
    llm.script(Answer.error(500), Answer.error(500), Answer.error(500))
    await write_past_the_threshold(http, "flaky")
    await summarised(http, "flaky")
    failed = retried(caplog, "LLMUnavailable")
    assert len(failed) == 1 and failed[0].levelno == logging.WARNING
    sdk = [r for r in caplog.records if r.name.startswith("openai")]
    assert sdk and {r.levelno for r in sdk} == {logging.INFO}
    assert_quiet(caplog)


@dataclass
class FailingOnce(VerbatimExtractor):
    """An extractor with a bug that shows once (a KeyError), then works."""

    failed: bool = False

    async def extract(self, batch: Batch) -> list[MemoryRecord]:
        if not self.failed:
            self.failed = True
            raise KeyError("a bug")
        return await super().extract(batch)


async def test_an_unforeseen_failure_keeps_its_error_and_traceback(
    app: FastAPI, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app.state.resources.lifecycle.extraction.extractor = FailingOnce()
    await write_past_the_threshold(http, "buggy")
    await summarised(http, "buggy")  # after extraction's retry
    [record] = [r for r in caplog.records if r.name == RETRIED and r.exc_info]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


async def test_running_out_of_retries_is_an_error_with_its_traceback(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A task of two attempts whose LLM stays unavailable: the first failure a warning, the
    last an error with its traceback (Docket's worker logs it)."""
    caplog.set_level(logging.INFO)
    quiet_expected_retries(EXPECTED_RETRIES)
    retry = ExponentialRetry(2, timedelta(milliseconds=10), timedelta(milliseconds=10))

    async def ask_the_llm(retry: ExponentialRetry = retry) -> None:
        raise LLMUnavailable("the LLM at <test> is unreachable")

    async with Docket(name=f"{settings.key_prefix}retries", url=settings.redis_url or "") as docket:
        docket.register(ask_the_llm)
        await docket.add(ask_the_llm)()
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    mine = [r for r in caplog.records if "ask_the_llm" in r.getMessage() and r.levelno > 20]
    assert [(r.name, r.levelno, bool(r.exc_info)) for r in mine] == [
        (RETRIED, logging.WARNING, False),
        ("docket.worker", logging.ERROR, True),
    ]
