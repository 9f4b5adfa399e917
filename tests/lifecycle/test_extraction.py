"""Extraction: a session's messages become long-term memories after a trailing debounce,
each run taking only the messages not yet extracted, the last turns always included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from remem.api.app import create_app
from remem.background.extraction import Batch, VerbatimExtractor
from remem.config import Settings
from remem.models.memory import MemoryRecord
from tests.helpers import wait_until
from tests.lifecycle.conftest import DEBOUNCE, search


@dataclass
class Recording(VerbatimExtractor):
    """The verbatim extractor, recording each batch it is given; ``hold`` makes a run wait
    until the test releases it."""

    batches: list[list[str]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def extract(self, batch: Batch) -> list[MemoryRecord]:
        self.batches.append([m.id for m in batch.messages])
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        return await super().extract(batch)


@pytest.fixture
async def app(quick: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(quick)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://remem") as client:
        yield client


def recording(app: FastAPI) -> Recording:
    extractor = Recording()
    app.state.resources.lifecycle.extraction.extractor = extractor
    return extractor


def turn(i: int) -> dict[str, str]:
    role = "user" if i % 2 == 0 else "assistant"
    return {"role": role, "content": f"turn {i} about the harbour trip", "id": f"t{i}"}


async def _marked(http: httpx.AsyncClient, sid: str) -> list[str]:
    r = await http.get(f"/v1/working-memory/{sid}", params={"namespace": "ns", "user_id": "u"})
    return [m["discrete_memory_extracted"] for m in r.json()["messages"]]


async def test_quick_puts_make_one_run(app: FastAPI, http: httpx.AsyncClient) -> None:
    """Ten PUTs of a growing conversation within the debounce: one extraction run, of all ten
    messages, once the session has been quiet for the debounce."""
    extractor = recording(app)
    messages = []
    started = time.monotonic()
    for i in range(10):
        messages.append(turn(i))
        body = {"namespace": "ns", "user_id": "u", "messages": messages}
        assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
    assert time.monotonic() - started < DEBOUNCE  # else the test proves nothing
    await wait_until(lambda: _all_t(http, "s", 10), timeout=10)
    assert extractor.batches == [[f"t{i}" for i in range(10)]]


async def _all_t(http: httpx.AsyncClient, sid: str, n: int) -> bool:
    marks = await _marked(http, sid)
    return len(marks) == n and set(marks) == {"t"}


async def test_message_during_a_run_is_extracted_by_a_later_run(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """A message appended while a run is extracting is not in that run, and a later run takes
    it (and only it): the tail of a conversation is never left behind."""
    extractor = recording(app)
    extractor.hold = asyncio.Event()
    body = {"namespace": "ns", "user_id": "u", "messages": [turn(0), turn(1)]}
    assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
    await asyncio.wait_for(extractor.started.wait(), 10)
    late = {"namespace": "ns", "user_id": "u", "messages": [turn(2)]}
    assert (await http.post("/v1/working-memory/s/messages", json=late)).status_code == 200
    extractor.hold.set()
    await wait_until(lambda: _all_t(http, "s", 3), timeout=10)
    assert extractor.batches == [["t0", "t1"], ["t2"]]
    found = await search(http, "harbour trip", namespace="ns")
    assert sorted(m["extracted_from"][0] for m in found) == ["t0", "t1", "t2"]


async def test_records_keep_scope_and_sources(app: FastAPI, http: httpx.AsyncClient) -> None:
    """Extracted memories carry the session's namespace, user and id, the message they came
    from, its date as event_date, and are episodic, with no LLM configured."""
    body = {
        "namespace": "ns",
        "user_id": "u",
        "messages": [
            {"role": "user", "content": "My sister Ana lives in Lisbon", "id": "a"},
            {"role": "assistant", "content": "Lisbon is lovely in spring", "id": "b"},
        ],
    }
    r = await http.put("/v1/working-memory/trip", json=body)
    dates = {m["id"]: m["created_at"] for m in r.json()["messages"]}

    async def two() -> list[dict]:
        found = await search(http, "Lisbon", namespace="ns")
        return found if len(found) == 2 else []

    found = {m["extracted_from"][0]: m for m in await wait_until(two, timeout=10)}
    assert found["a"]["text"] == "user: My sister Ana lives in Lisbon"
    assert found["b"]["text"] == "assistant: Lisbon is lovely in spring"
    for source, memory in found.items():
        assert (memory["namespace"], memory["user_id"], memory["session_id"]) == (
            "ns",
            "u",
            "trip",
        )
        assert memory["memory_type"] == "episodic"
        assert memory["event_date"] == dates[source]
        assert memory["extraction_strategy"] == "discrete"


async def test_a_stale_put_keeps_the_marks_and_a_changed_message_is_extracted_again(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """Messages extracted once and PUT back unmarked and unchanged (a client's copy read before
    the run) stay extracted; one whose content changed is extracted again, into the memory of
    the same id (no copy)."""
    extractor = recording(app)
    body = {"namespace": "ns", "user_id": "u", "messages": [turn(0), turn(1), turn(2)]}
    assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
    await wait_until(lambda: _all_t(http, "s", 3), timeout=10)
    assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200
    assert await _marked(http, "s") == ["t", "t", "t"]  # kept by the PUT itself
    await asyncio.sleep(DEBOUNCE + 0.5)  # a run would have started by now
    assert len(extractor.batches) == 1
    changed = {**body, "messages": [turn(0), {**turn(1), "content": "turn 1, corrected"}, turn(2)]}
    assert (await http.put("/v1/working-memory/s", json=changed)).status_code == 200
    assert await _marked(http, "s") == ["t", "f", "t"]
    await wait_until(lambda: _all_t(http, "s", 3), timeout=10)
    assert extractor.batches[1:] == [["t1"]]
    found = await search(http, "harbour trip", namespace="ns")
    assert sorted(m["extracted_from"][0] for m in found) == ["t0", "t1", "t2"]


async def test_verbatim_memory_is_found_by_words_of_the_turns_before_it(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """Without an LLM a message's memory is its own words, but keyword search also reads the
    two messages before it ("a beagle" is found by asking about Biscuit), not the ones before
    those: the context that won on LoCoMo (bench/locomo_extraction.py)."""
    said = [
        ("user", "I adopted a dog called Biscuit last week"),
        ("assistant", "Congratulations! What breed?"),
        ("user", "A beagle, three years old"),
        ("assistant", "Beagles love long walks."),
        ("user", "We walk along the canal every morning"),
    ]
    messages = [{"role": r, "content": c, "id": f"m{i}"} for i, (r, c) in enumerate(said)]
    body = {"namespace": "ns", "user_id": "u", "messages": messages}
    assert (await http.put("/v1/working-memory/dog", json=body)).status_code == 200

    async def found() -> list[str]:
        r = await http.post(
            "/v1/long-term-memory/search",
            json={"text": "Biscuit", "search_mode": "keyword", "session_id": {"eq": "dog"}},
        )
        return sorted(m["text"] for m in r.json()["memories"])

    async def extracted() -> bool:
        return await _marked(http, "dog") == ["t"] * len(said)

    await wait_until(extracted, timeout=10)
    assert await found() == sorted(f"{r}: {c}" for r, c in said[:3])


@pytest.mark.parametrize("max_wait", [1.0, 0.0])
async def test_a_session_written_without_pause_is_extracted_every_max_wait(
    quick: Settings, max_wait: float
) -> None:
    """Appends every 0.1 s for 2.5 s, under a 0.3 s trailing debounce: each write moves the
    extraction later, so without a limit (0) nothing is extracted until the writes stop; with
    ``REMEM_EXTRACTION_MAX_WAIT_SECONDS`` 1.0, messages are extracted while they go on."""
    app = create_app(quick.model_copy(update={"extraction_max_wait_seconds": max_wait}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            started = time.monotonic()
            i = 0
            while time.monotonic() - started < 2.5:
                body = {"namespace": "ns", "user_id": "u", "messages": [turn(i)]}
                r = await http.post("/v1/working-memory/busy/messages", json=body)
                assert r.status_code == 200, r.text
                i += 1
                await asyncio.sleep(0.1)
            marked_while_writing = (await _marked(http, "busy")).count("t")
            if max_wait:
                assert marked_while_writing >= 5, marked_while_writing
            else:
                assert marked_while_writing == 0
            await wait_until(lambda: _all_marked(http, "busy", i), timeout=10)


async def _all_marked(http: httpx.AsyncClient, sid: str, count: int) -> bool:
    marks = await _marked(http, sid)
    return len(marks) == count and set(marks) == {"t"}


async def test_verbatim_memory_is_found_by_words_of_the_turns_after_it_written_one_by_one(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    """Keyword search also reads the two messages after a message, also when they arrive in
    later runs (each run renews the keyword text of the two messages before its new ones, and
    a memory deleted meanwhile stays deleted); the memory keeps its role, and a "Name: words"
    message names its speaker as the entity."""
    said = [
        ("user", "Ann: I adopted a dog called Biscuit last week"),
        ("assistant", "Congratulations! What breed?"),
        ("user", "Ann: A beagle, three years old"),
        ("assistant", "Beagles love long walks."),
        ("user", "Ann: We walk along the canal every morning"),
    ]
    where = {"namespace": "ns", "user_id": "u"}
    for i, (role, content) in enumerate(said):  # one run per message
        if i == 4:  # the memory of m3 is deleted before m4 arrives
            hits = await search(http, "long walks", session_id="dog")
            (walks,) = [m for m in hits if m["extracted_from"] == ["m3"]]
            r = await http.delete("/v1/long-term-memory", params={"memory_ids": walks["id"]})
            assert r.status_code == 200, r.text
        message = {"role": role, "content": content, "id": f"m{i}"}
        r = await http.post(
            "/v1/working-memory/dog/messages", json={"messages": [message], **where}
        )
        assert r.status_code == 200, r.text

        async def extracted(n: int = i + 1) -> bool:
            return await _marked(http, "dog") == ["t"] * n

        await wait_until(extracted, timeout=10)

    async def found(word: str) -> list[dict]:
        r = await http.post(
            "/v1/long-term-memory/search",
            json={"text": word, "search_mode": "keyword", "session_id": {"eq": "dog"}},
        )
        return list(r.json()["memories"])

    canal = await found("canal")
    assert sorted(m["extracted_from"][0] for m in canal) == ["m2", "m4"]
    assert canal[0]["extracted_from"] == ["m4"]  # its own words count twice
    beagle = {m["extracted_from"][0]: m for m in await found("beagle")}
    assert sorted(beagle) == ["m0", "m1", "m2", "m4"]
    assert (beagle["m2"]["role"], beagle["m2"]["entities"]) == ("user", ["Ann"])
    assert (beagle["m1"]["role"], beagle["m1"]["entities"]) == ("assistant", None)


async def test_with_extraction_off_messages_stay_in_working_memory(quick: Settings) -> None:
    """REMEM_EXTRACT_MESSAGES=false: a session's messages make no memories and nothing is
    scheduled for them, while its structured ``memories`` are still promoted."""
    app = create_app(quick.model_copy(update={"extract_messages": False}))
    async with app.router.lifespan_context(app):
        extractor = recording(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            body = {
                "namespace": "ns",
                "user_id": "u",
                "messages": [turn(0), turn(1)],
                "memories": [{"id": "kept", "text": "the harbour trip is on Sunday"}],
            }
            assert (await http.put("/v1/working-memory/s", json=body)).status_code == 200

            async def promoted() -> bool:
                return [m["id"] for m in await search(http, "harbour", namespace="ns")] == ["kept"]

            await wait_until(promoted, timeout=10)
            await asyncio.sleep(DEBOUNCE * 4)  # past the debounce: an extraction would have run
            assert extractor.batches == []
            assert await _marked(http, "s") == ["f", "f"]
            assert [m["id"] for m in await search(http, "harbour", namespace="ns")] == ["kept"]
