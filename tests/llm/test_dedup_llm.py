"""Deduplication decided by an LLM (a real OpenAI-compatible server, tests/llm_server.py): the
near pairs of a create request go to it in one call, and its verdicts do what they say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from ulid import ULID

from remem.api.app import create_app
from remem.config import Settings
from remem.llm.client import LLMClient
from remem.memory.llm_judge import llm_judge
from remem.memory.longterm import LongTermMemoryService
from remem.models.memory import MemoryRecord
from remem.store.longterm import LongTermStore
from remem.store.query import tag_is
from tests.llm_server import Answer, Call, FakeLLM, llm_server
from tests.longterm.conftest import WordEmbedder
from tests.serving import served

USER = tag_is("user_id", "u")
RADIUS = 0.3  # WordEmbedder: each pair below is 0.11-0.23 apart, any two others 0.71 or more
SEEDS = ["Alice likes green tea", "Bob lives in Paris", "Carol works at Acme"]
VERDICTS = {  # new text -> the verdict on its seed
    "Alice likes green tea very much": "same",
    "Bob lives in Paris since 2020": "refines",
    "Carol works at Acme Labs": "different",
}


def by_table(call: Call) -> Answer:
    pairs = call.user_json["pairs"]
    return Answer.json(
        {"verdicts": [{"pair": p["pair"], "verdict": VERDICTS[p["new"]["text"]]} for p in pairs]}
    )


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with llm_server() as server:
        yield server


async def service_for(
    store: LongTermStore, embedder: WordEmbedder, client: LLMClient | None
) -> LongTermMemoryService:
    judge = llm_judge(client) if client is not None else None
    return LongTermMemoryService(
        store, embedder, dedup_candidate_distance=RADIUS, merge_judge=judge
    )


async def seed(service: LongTermMemoryService) -> list[str]:
    records = [MemoryRecord(text=t, topics=["seed"], user_id="u") for t in SEEDS]
    await service.create(records, deduplicate=False)
    return [r.id for r in records]


def newcomers(**extra: Any) -> list[MemoryRecord]:
    return [MemoryRecord(text=t, topics=["new"], user_id="u", **extra) for t in VERDICTS]


async def test_near_pairs_reach_the_llm_in_one_call_and_each_verdict_does_what_it_says(
    store: LongTermStore, embedder: WordEmbedder, llm: FakeLLM
) -> None:
    client = LLMClient(model="judge", base_url=llm.base_url)
    service = await service_for(store, embedder, client)
    alice, bob, carol = await seed(service)
    before = {i: await service.get(i) for i in (alice, bob, carol)}
    llm.respond = by_table
    records = newcomers()
    out = await service.create(records)

    [call] = llm.calls  # one call for the request
    asked = [(p["new"]["text"], p["stored"]["text"]) for p in call.user_json["pairs"]]
    assert asked == list(zip(VERDICTS, SEEDS, strict=True))  # one decision per near pair
    assert call.model == "judge" and call.response_format["type"] == "json_schema"  # type: ignore[index]
    assert [(c.id, c.status) for c in out] == [
        (alice, "merged"),
        (bob, "merged"),
        (records[2].id, "created"),
    ]
    same = await service.get(alice)  # same: joined, the older id and text kept
    assert same.text == SEEDS[0] and same.topics == ["seed", "new"]
    refined = await service.get(bob)  # refines: its text replaced, id and created_at kept
    assert refined.text == "Bob lives in Paris since 2020"
    assert refined.created_at == before[bob].created_at and refined.topics == ["seed", "new"]
    [vector] = await embedder.embed_batch([refined.text])  # re-embedded: the new text's vector
    [nearest] = await store.index.nearest(USER, vector, 1)
    assert nearest.id == bob and nearest.value < 1e-3  # the old text's is 0.18 away
    assert (await service.get(carol)).text == SEEDS[2]  # different: both kept
    assert (await service.get(records[2].id)).text == "Carol works at Acme Labs"
    assert await store.index.count(USER) == 4
    await client.aclose()


async def test_without_an_llm_none_of_them_merge(
    store: LongTermStore, embedder: WordEmbedder
) -> None:
    service = await service_for(store, embedder, None)
    await seed(service)
    out = await service.create(newcomers())
    assert [c.status for c in out] == ["created"] * 3
    assert await store.index.count(USER) == 6


async def test_pinned_and_client_chosen_ids_are_never_merged_away(
    store: LongTermStore, embedder: WordEmbedder, llm: FakeLLM
) -> None:
    """A pinned newcomer, a newcomer whose id the client chose, and a pinned stored memory are
    never offered to the LLM; a ULID id (what agent-memory-client generates) is."""
    client = LLMClient(model="judge", base_url=llm.base_url)
    service = await service_for(store, embedder, client)
    await seed(service)
    await service.create([MemoryRecord(text="Dave likes chess", user_id="u", pinned=True)])
    llm.respond = lambda call: Answer.json(
        {"verdicts": [{"pair": p["pair"], "verdict": "same"} for p in call.user_json["pairs"]]}
    )
    out = await service.create(
        [
            MemoryRecord(text="Alice likes green tea very much", user_id="u", pinned=True),
            MemoryRecord(id="bob-home", text="Bob lives in Paris since 2020", user_id="u"),
            MemoryRecord(text="Dave likes chess a lot", user_id="u"),
        ]
    )
    assert [c.status for c in out] == ["created"] * 3
    assert llm.calls == []
    llm.respond = by_table  # a ULID the client sent (as agent-memory-client does) is asked
    sent = MemoryRecord(id=str(ULID()), text="Carol works at Acme Labs", user_id="u")
    assert "id" in sent.model_fields_set
    await service.create([sent])
    assert len(llm.calls) == 1
    await client.aclose()


async def test_new_memories_of_one_request_are_judged_against_each_other(
    store: LongTermStore, embedder: WordEmbedder, llm: FakeLLM
) -> None:
    client = LLMClient(model="judge", base_url=llm.base_url)
    service = await service_for(store, embedder, client)
    llm.script(Answer.json({"verdicts": [{"pair": 1, "verdict": "refines"}]}))
    first = MemoryRecord(text="Eve plays the violin", user_id="u", topics=["music"])
    out = await service.create(
        [first, MemoryRecord(text="Eve plays the violin well", user_id="u", topics=["skill"])]
    )
    assert [(c.id, c.status) for c in out] == [(first.id, "created"), (first.id, "merged")]
    [call] = llm.calls
    assert call.user_json["pairs"][0]["stored"]["text"] == "Eve plays the violin"
    kept = await service.get(first.id)
    assert (kept.text, kept.topics) == ("Eve plays the violin well", ["music", "skill"])
    assert await store.index.count(USER) == 1
    await client.aclose()


@pytest.mark.parametrize(
    "failure",
    [
        [Answer.error(500)],  # down (no retries left)
        [Answer.text("no verdicts"), Answer.text("still none")],  # invalid twice
        [Answer.json({"verdicts": []})] * 2,  # no verdict for the pair
    ],
)
async def test_an_llm_failure_keeps_both(
    store: LongTermStore, embedder: WordEmbedder, llm: FakeLLM, failure: list[Answer]
) -> None:
    client = LLMClient(model="judge", base_url=llm.base_url, max_retries=0)
    service = await service_for(store, embedder, client)
    await seed(service)
    llm.script(*failure)
    out = await service.create(newcomers())
    assert [c.status for c in out] == ["created"] * 3
    assert await store.index.count(USER) == 6
    assert llm.calls
    await client.aclose()


async def test_an_unreachable_llm_keeps_both(store: LongTermStore, embedder: WordEmbedder) -> None:
    client = LLMClient(model="judge", base_url="http://127.0.0.1:9/v1", max_retries=0)
    service = await service_for(store, embedder, client)
    await seed(service)
    assert [c.status for c in await service.create(newcomers())] == ["created"] * 3
    await client.aclose()


async def test_the_server_asks_the_llm_it_is_configured_with(settings: Settings) -> None:
    """Through the REST API with the default (static) embedder: Resources builds the judge."""
    async with llm_server() as llm:
        llm.script(Answer.json({"verdicts": [{"pair": 1, "verdict": "same"}]}))
        configured = settings.model_copy(
            update={"llm_base_url": llm.base_url, "llm_api_key": None, "llm_model": "m"}
        )
        app = create_app(configured)
        async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
            for text in ("Eve plays the violin", "Eve plays the violin well"):  # 0.01 apart
                body = {"memories": [{"text": text, "user_id": "u", "namespace": "n"}]}
                answer = await http.post("/v1/long-term-memory/", json=body)
                assert answer.status_code == 200, answer.text
            found = await http.post(
                "/v1/long-term-memory/search", json={"text": "violin", "namespace": {"eq": "n"}}
            )
    assert [m["text"] for m in found.json()["memories"]] == ["Eve plays the violin"]
    [call] = llm.calls
    assert call.user_json["pairs"][0]["new"]["text"] == "Eve plays the violin well"
