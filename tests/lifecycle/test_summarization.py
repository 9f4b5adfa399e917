"""Summarisation: past the threshold of the window a write names, a session's oldest messages
are folded, in order, into its context by a background task, and removed by an atomic patch;
the newest stay verbatim, and no message leaves the session without being summarised.

The LLM is tests/llm_server.py over real HTTP. Its summary lists the ids of the messages it was
given after the previous summary ("|a,b|c,d"), so a test reads off which ids each call covered.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from remem.api.app import create_app
from remem.background.extraction import Batch, VerbatimExtractor
from remem.background.summarization import LLMSummarizer, Summarization
from remem.config import Settings
from remem.memory.tokens import messages_tokens
from remem.models.memory import MemoryRecord
from remem.models.working import MemoryMessage
from tests.helpers import wait_until
from tests.lifecycle.conftest import DEBOUNCE
from tests.llm_server import Answer, Call, FakeLLM, llm_server

WM = "/v1/working-memory"
WINDOW = {"context_window_max": 1000}  # threshold 0.7: due past 700 tokens
SCOPE = {"namespace": "ns", "user_id": "u"}


def turn(i: int, tag: str = "t") -> dict[str, str]:
    role = "user" if i % 2 == 0 else "assistant"
    return {
        "role": role,
        "content": f"{tag}{i} " + "about the harbour trip " * 4,
        "id": f"{tag}{i}",
    }


def folding(call: Call) -> Answer:
    asked = call.user_json
    ids = ",".join(m["id"] for m in asked["messages"])
    return Answer.json({"summary": f"{asked['summary_so_far'] or ''}|{ids}"})


def covered(context: str | None) -> list[str]:
    """The ids the fake LLM's summary says it covered, in order."""
    return [i for part in (context or "").split("|") if part for i in part.split(",")]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with llm_server() as server:
        server.respond = folding
        yield server


@pytest.fixture
async def app(quick: Settings, llm: FakeLLM) -> AsyncIterator[FastAPI]:
    settings = quick.model_copy(
        update={"llm_base_url": llm.base_url, "llm_model": "test-model", "llm_max_retries": 0}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Extraction without the LLM: these tests count and read the summariser's calls only
        # (summaries wait for extraction, which is tested with the LLM elsewhere).
        app.state.resources.lifecycle.extraction.extractor = VerbatimExtractor()
        app.state.resources.long_term.dedup.judge = None  # nor the dedup judge's calls
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://remem") as client:
        yield client


def summarization(app: FastAPI) -> Summarization:
    found = app.state.resources.lifecycle.summarization
    assert found is not None
    return found


async def get(http: httpx.AsyncClient, sid: str) -> dict:
    """The whole session (a GET naming the window would leave out messages past it)."""
    r = await http.get(f"{WM}/{sid}", params=SCOPE)
    assert r.status_code == 200, r.text
    return dict(r.json())


def used(doc: dict) -> int:
    return messages_tokens([MemoryMessage.model_validate(m) for m in doc["messages"]])


async def summarised(http: httpx.AsyncClient, sid: str, ids: Sequence[str] = ()) -> dict:
    """The session once its context covers ``ids`` (or anything, when none given)."""

    async def probe() -> dict | None:
        doc = await get(http, sid)
        done = set(ids) <= set(covered(doc["context"])) if ids else doc["context"]
        return doc if done else None

    return await wait_until(probe, timeout=10)


def call_ids(llm: FakeLLM) -> list[list[str]]:
    return [[m["id"] for m in c.user_json["messages"]] for c in llm.calls]


async def test_oldest_messages_are_summarised_in_order(http: httpx.AsyncClient, llm: FakeLLM):
    """Thirty turns past the threshold: the oldest are summarised in one call, in order, and
    removed; the newest stay verbatim, under the threshold."""
    messages = [turn(i) for i in range(30)]
    r = await http.put(f"{WM}/s", json={**SCOPE, "messages": messages}, params=WINDOW)
    assert r.json()["context_percentage_until_summarization"] == 100.0
    doc = await summarised(http, "s")
    kept = [m["id"] for m in doc["messages"]]
    gone = covered(doc["context"])
    assert gone + kept == [m["id"] for m in messages]  # every message, once, in order
    assert call_ids(llm) == [gone]
    assert used(doc) <= 500  # half the window kept


async def test_a_long_backlog_is_summarised_chunk_by_chunk(
    app: FastAPI, http: httpx.AsyncClient, llm: FakeLLM
):
    """A backlog longer than the summariser's budget goes in chunks, oldest first, each folded
    into the summary of the ones before."""
    summarization(app).chunk_tokens = 100  # three turns a chunk
    messages = [turn(i) for i in range(60)]
    await http.put(f"{WM}/c", json={**SCOPE, "messages": messages}, params=WINDOW)
    doc = await summarised(http, "c")
    gone = covered(doc["context"])
    assert gone + [m["id"] for m in doc["messages"]] == [m["id"] for m in messages]
    calls = call_ids(llm)
    assert len(calls) >= 10 and all(len(ids) <= 3 for ids in calls)
    assert [i for ids in calls for i in ids] == gone
    so_far = [c.user_json["summary_so_far"] for c in llm.calls]
    assert so_far[0] is None
    assert all(covered(s) == [i for ids in calls[:n] for i in ids] for n, s in enumerate(so_far))


@dataclass
class Held(LLMSummarizer):
    """The LLM summariser, waiting for the test's signal before each call."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def fold(self, previous: str | None, messages: Sequence[MemoryMessage]) -> str:
        self.started.set()
        await self.release.wait()
        return await super().fold(previous, messages)


@dataclass
class Slow(LLMSummarizer):
    """The LLM summariser taking 100 ms more a call, so that writes land during runs."""

    async def fold(self, previous: str | None, messages: Sequence[MemoryMessage]) -> str:
        await asyncio.sleep(0.1)
        return await super().fold(previous, messages)


def hold(app: FastAPI) -> Held:
    run = summarization(app)
    held = Held(app.state.resources.llm)
    run.summarizer = held
    return held


async def test_messages_appended_during_a_run_are_kept(app: FastAPI, http: httpx.AsyncClient):
    """Messages appended while the LLM summarises stay, after the kept ones."""
    held = hold(app)
    messages = [turn(i) for i in range(30)]
    await http.put(f"{WM}/a", json={**SCOPE, "messages": messages}, params=WINDOW)
    await asyncio.wait_for(held.started.wait(), 10)
    late = [turn(i, "late") for i in range(3)]
    r = await http.post(f"{WM}/a/messages", json={**SCOPE, "messages": late})
    assert r.status_code == 200, r.text
    held.release.set()
    doc = await summarised(http, "a")
    ids = covered(doc["context"]) + [m["id"] for m in doc["messages"]]
    assert ids == [m["id"] for m in messages + late]


async def test_a_put_during_a_run_makes_its_patch_a_no_op(app: FastAPI, http: httpx.AsyncClient):
    """A PUT that replaced the messages while the LLM summarised: the run writes nothing, and
    the run the PUT scheduled summarises what the PUT stored."""
    held = hold(app)
    await http.put(
        f"{WM}/p", json={**SCOPE, "messages": [turn(i) for i in range(30)]}, params=WINDOW
    )
    await asyncio.wait_for(held.started.wait(), 10)
    replaced = [turn(i, "new") for i in range(30)]
    r = await http.put(f"{WM}/p", json={**SCOPE, "messages": replaced}, params=WINDOW)
    assert r.status_code == 200
    held.release.set()
    doc = await summarised(http, "p", ["new0"])
    assert not [i for i in covered(doc["context"]) if i.startswith("t")]
    ids = covered(doc["context"]) + [m["id"] for m in doc["messages"]]
    assert ids == [m["id"] for m in replaced]


async def test_many_writers_racing_summarisation_lose_nothing(
    app: FastAPI, http: httpx.AsyncClient
):
    """Eight writers append 30 turns each while summarisation runs again and again: every
    message ends up once, either in the summary or verbatim, each writer's in its order."""
    summarization(app).chunk_tokens = 200
    summarization(app).summarizer = Slow(app.state.resources.llm)

    async def writer(w: int, start: int) -> None:
        for i in range(start, start + 5):
            body = {**SCOPE, "messages": [turn(i, f"w{w}-")]}
            r = await http.post(f"{WM}/m/messages", json=body, params=WINDOW)
            assert r.status_code == 200, r.text

    for start in range(0, 30, 5):  # rounds: each starts a run that the next round's writes race
        await asyncio.gather(*(writer(w, start) for w in range(8)))
        await asyncio.sleep(DEBOUNCE + 0.1)
    doc = await summarised(http, "m")

    async def settled() -> dict | None:  # the last write's run has run
        again = await get(http, "m")
        return again if used(again) <= 700 else None

    doc = await wait_until(settled, timeout=15)
    ids = covered(doc["context"]) + [m["id"] for m in doc["messages"]]
    assert len(ids) == len(set(ids)) == 240
    for w in range(8):
        assert [i for i in ids if i.startswith(f"w{w}-")] == [f"w{w}-{i}" for i in range(30)]


async def test_a_failing_llm_changes_nothing_and_a_later_run_succeeds(
    http: httpx.AsyncClient, llm: FakeLLM
):
    """The LLM unavailable, then answering invalid JSON twice: the session stays as written;
    the task's retry summarises it."""
    llm.script(Answer.error(500), Answer.text("no JSON here"), Answer.text("still none"))
    messages = [turn(i) for i in range(30)]
    await http.put(f"{WM}/f", json={**SCOPE, "messages": messages}, params=WINDOW)

    async def failed_twice() -> bool:
        return len(llm.calls) >= 3

    await wait_until(failed_twice, timeout=10)
    doc = await get(http, "f")
    assert doc["context"] is None
    assert [m["id"] for m in doc["messages"]] == [m["id"] for m in messages]
    doc = await summarised(http, "f")
    assert covered(doc["context"]) + [m["id"] for m in doc["messages"]] == [
        m["id"] for m in messages
    ]


async def test_without_an_llm_the_oldest_are_trimmed_and_the_context_says_so(
    app_client: httpx.AsyncClient,
):
    """No LLM: the oldest messages are removed and the context says how many and when; a
    second trim merges into the same note."""
    http = app_client
    messages = [turn(i) for i in range(30)]
    r = await http.put(f"{WM}/n", json={**SCOPE, "messages": messages}, params=WINDOW)
    sent = {m["id"]: m["created_at"] for m in r.json()["messages"]}
    doc = await summarised(http, "n")
    kept = [m["id"] for m in doc["messages"]]
    gone = [m["id"] for m in messages if m["id"] not in kept]
    assert gone + kept == [m["id"] for m in messages] and gone
    first, last = (sent[gone[0]], sent[gone[-1]])
    note = re.fullmatch(
        r"(\d+) earlier messages \(from (\S+) to (\S+)\) were trimmed: "
        r"no LLM to summarise them\.",
        doc["context"],
    )
    assert note, doc["context"]
    assert int(note.group(1)) == len(gone)
    assert note.group(2).startswith(first.replace("Z", "")[:19])
    assert note.group(3).startswith(last.replace("Z", "")[:19])
    more = [turn(i, "more") for i in range(20)]
    await http.post(f"{WM}/n/messages", json={**SCOPE, "messages": more}, params=WINDOW)

    async def trimmed_again() -> dict | None:
        again = await get(http, "n")
        return again if again["context"] != doc["context"] else None

    again = await wait_until(trimmed_again, timeout=10)
    total = re.match(r"(\d+) earlier messages \(from (\S+) ", again["context"])
    assert total and total.group(2) == note.group(2)
    assert int(total.group(1)) + len(again["messages"]) == 50


@dataclass
class HeldExtraction(VerbatimExtractor):
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def extract(self, batch: Batch) -> list[MemoryRecord]:
        await self.release.wait()
        return await super().extract(batch)


async def test_messages_are_summarised_only_once_extracted(
    app: FastAPI, http: httpx.AsyncClient, llm: FakeLLM
):
    """A message leaves the session only once extraction took it to long-term memory: while
    extraction is held, the session stays as written; once it ran, the summary follows."""
    extraction = HeldExtraction()
    app.state.resources.lifecycle.extraction.extractor = extraction
    messages = [turn(i) for i in range(30)]
    await http.put(f"{WM}/e", json={**SCOPE, "messages": messages}, params=WINDOW)
    try:
        await asyncio.sleep(DEBOUNCE + 2.0)  # the first run and its first retry
        doc = await get(http, "e")
        assert doc["context"] is None and len(doc["messages"]) == 30
        assert not llm.calls
    finally:
        extraction.release.set()
    doc = await summarised(http, "e")
    assert covered(doc["context"]) + [m["id"] for m in doc["messages"]] == [
        m["id"] for m in messages
    ]
