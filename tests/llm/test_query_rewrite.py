"""``optimize_query``: with an LLM (a real OpenAI-compatible server, tests/llm_server.py, over
HTTP), a semantic search's text is rewritten before it is embedded (the default static embedder,
real Redis); identical texts cost one call; a failing LLM leaves the text as given; without an
LLM the flag is ignored. Reached as upstream takes it: the query parameter of the REST search
and memory prompt (what agent-memory-client sends) and the argument of the two MCP tools."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from agent_memory_client.models import ClientMemoryRecord
from mcp import Client

from remem.api.app import create_app
from remem.app import build_app
from remem.config import Settings
from remem.llm.client import LLMClient
from remem.memory.filters import Within
from remem.memory.query_rewrite import MAX_CACHED_CHARS, QueryRewriter
from tests.llm_server import Answer, Call, FakeLLM, llm_server
from tests.serving import official_client, served

NS = "n"
MEMORIES = [
    "Ann takes pottery classes every Tuesday evening",
    "Bob repairs vintage motorcycles in his garage",
    "Carol bakes sourdough bread on weekends",
]
# With the static embedder the question is 0.35-0.43 from every memory, the rewrite 0.06 from
# Ann's and 0.40 or more from the others: within THRESHOLD only the rewrite finds Ann's.
QUESTION = "what does she do?"
REWRITE = "Ann pottery classes Tuesday"
THRESHOLD = 0.2


def with_llm(settings: Settings, base_url: str, **extra: Any) -> Settings:
    update = {"llm_base_url": base_url, "llm_api_key": None, "llm_model": "m"}
    return settings.model_copy(update={**update, "llm_max_retries": 0, **extra})


@pytest.fixture
def rewrites() -> dict[str, str]:
    """What the LLM answers for each question (a test may add its own)."""
    return {QUESTION: REWRITE}


@pytest.fixture
async def llm(rewrites: dict[str, str]) -> AsyncIterator[FakeLLM]:
    def rewrite(call: Call) -> Answer:
        return Answer.json({"query": rewrites[call.user_json["question"]]})

    async with llm_server() as server:
        server.respond = rewrite
        yield server


async def store(http: httpx.AsyncClient) -> None:
    body = {"memories": [{"text": t, "namespace": NS} for t in MEMORIES], "deduplicate": False}
    answer = await http.post("/v1/long-term-memory/", json=body)
    assert answer.status_code == 200, answer.text


async def search(http: httpx.AsyncClient, text: str, **body: Any) -> list[str]:
    """The texts found (a 200 is required); ``optimize_query`` goes as a query parameter."""
    flag = body.pop("optimize_query", None)
    params = {} if flag is None else {"optimize_query": str(flag).lower()}
    body = {"text": text, "namespace": {"eq": NS}, **body}
    answer = await http.post("/v1/long-term-memory/search", json=body, params=params)
    assert answer.status_code == 200, answer.text
    return [m["text"] for m in answer.json()["memories"]]


async def test_the_official_clients_flag_rewrites_the_search_once_per_text(
    settings: Settings, llm: FakeLLM
) -> None:
    """agent-memory-client 0.14's ``optimize_query`` (a query parameter) on search, the search
    tool and the memory prompt: the rewrite finds what the question alone does not, and the
    three searches of one question make one LLM call."""
    async with official_client(create_app(with_llm(settings, llm.base_url)), NS) as client:
        await client.create_long_term_memory(
            [ClientMemoryRecord(text=t) for t in MEMORIES], deduplicate=False
        )
        plain = await client.search_long_term_memory(QUESTION, distance_threshold=THRESHOLD)
        assert plain.total == 0 and llm.calls == []  # not asked for: no call
        found = await client.search_long_term_memory(
            QUESTION, distance_threshold=THRESHOLD, optimize_query=True
        )
        assert [m.text for m in found.memories] == [MEMORIES[0]]
        [call] = llm.calls
        assert call.user_json == {"question": QUESTION} and call.model == "m"
        tool = await client.search_memory_tool(
            QUESTION, min_relevance=1 - THRESHOLD, optimize_query=True
        )
        assert [m["text"] for m in tool["memories"]] == [MEMORIES[0]]
        prompt = await client.memory_prompt(
            QUESTION, long_term_search={"distance_threshold": THRESHOLD}, optimize_query=True
        )
        assert [m["text"] for m in prompt["long_term_memories"]] == [MEMORIES[0]]
        assert prompt["messages"][-1]["content"]["text"] == QUESTION  # the user's own words
        unasked = await client.memory_prompt(
            QUESTION, long_term_search={"distance_threshold": THRESHOLD}
        )
        assert unasked["long_term_memories"] is None
    assert len(llm.calls) == 1  # the same text: kept


async def test_concurrent_identical_searches_share_one_call(
    settings: Settings, llm: FakeLLM, rewrites: dict[str, str]
) -> None:
    rewrites["who fixes bikes?"] = "Bob repairs motorcycles"
    async with (
        served(create_app(with_llm(settings, llm.base_url))) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await store(http)
        flagged = {"optimize_query": True, "distance_threshold": THRESHOLD}
        found = await asyncio.gather(
            *(search(http, QUESTION, **flagged) for _ in range(4)),
            search(http, "who fixes bikes?", **flagged),
        )
    assert found == [[MEMORIES[0]]] * 4 + [[MEMORIES[1]]]
    assert sorted(c.user_json["question"] for c in llm.calls) == [
        "what does she do?",
        "who fixes bikes?",
    ]


async def test_keyword_and_empty_searches_keep_their_words(
    settings: Settings, llm: FakeLLM
) -> None:
    """Keyword search is not rewritten (lexical matching wants the words), nor an empty text;
    hybrid, remem's default, is (upstream rewrites semantic only)."""
    async with (
        served(create_app(with_llm(settings, llm.base_url))) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await store(http)
        keyword = await search(http, "pottery", search_mode="keyword", optimize_query=True)
        assert keyword == [MEMORIES[0]]
        assert len(await search(http, "  ", optimize_query=True)) == 3  # a listing
    assert llm.calls == []


async def test_a_rewrite_that_finds_nothing_within_the_threshold_gives_way_to_the_text(
    settings: Settings, llm: FakeLLM, rewrites: dict[str, str]
) -> None:
    """As upstream: a threshold search the rewrite empties is run again with the text."""
    rewrites[REWRITE] = "quantum chromodynamics lecture"
    async with (
        served(create_app(with_llm(settings, llm.base_url))) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await store(http)
        found = await search(http, REWRITE, optimize_query=True, distance_threshold=THRESHOLD)
    assert found == [MEMORIES[0]] and len(llm.calls) == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param([Answer.error(500, message="model overloaded")], id="unavailable"),
        pytest.param([Answer.text("I cannot help"), Answer.json({"query": ""})], id="invalid"),
    ],
)
async def test_a_failing_llm_searches_the_text_as_given(
    settings: Settings, llm: FakeLLM, failure: list[Answer], caplog: pytest.LogCaptureFixture
) -> None:
    """A 200 with what the text finds; one WARNING without a traceback; not kept: the next
    search asks again (and gets the rewrite)."""
    async with (
        served(create_app(with_llm(settings, llm.base_url))) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await store(http)
        plain = await search(http, QUESTION, optimize_query=False, limit=1)
        llm.script(*failure)
        with caplog.at_level(logging.WARNING, logger="remem.memory.query_rewrite"):
            assert await search(http, QUESTION, optimize_query=True, limit=1) == plain
        asked = len(llm.calls)
        assert asked == len(failure)
        found = await search(http, QUESTION, optimize_query=True, distance_threshold=THRESHOLD)
        assert found == [MEMORIES[0]] and len(llm.calls) == asked + 1
    [warning] = [r for r in caplog.records if r.name == "remem.memory.query_rewrite"]
    assert warning.levelno == logging.WARNING and warning.exc_info is None
    assert warning.getMessage().startswith("optimize_query: searching the text as given: ")


async def test_an_llm_that_does_not_answer_in_time_is_not_waited_for(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that accepts the connection and never answers: after
    REMEM_QUERY_OPTIMIZATION_TIMEOUT_SECONDS the text is searched as given."""

    done = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    configured = with_llm(
        settings, f"http://127.0.0.1:{port}/v1", query_optimization_timeout_seconds=0.5
    )
    try:
        async with (
            served(create_app(configured)) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            await store(http)
            plain = await search(http, QUESTION, optimize_query=False, limit=1)
            with caplog.at_level(logging.WARNING, logger="remem.memory.query_rewrite"):
                started = asyncio.get_running_loop().time()
                assert await search(http, QUESTION, optimize_query=True, limit=1) == plain
                waited = asyncio.get_running_loop().time() - started
    finally:
        done.set()
        server.close()
        await server.wait_closed()
    assert 0.5 <= waited < 5
    [warning] = [r for r in caplog.records if r.name == "remem.memory.query_rewrite"]
    assert warning.getMessage() == (
        "optimize_query: no rewrite within 0.5 s; searching the text as given"
    )
    assert warning.exc_info is None


async def test_without_an_llm_the_flag_is_ignored(settings: Settings) -> None:
    """No LLM configured: the flag is accepted and the text searched as given, on every path."""
    app = build_app(settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        await store(http)
        flagged = await search(http, QUESTION, optimize_query=True, limit=2)
        assert flagged == await search(http, QUESTION, optimize_query=False, limit=2)
        assert await search(http, QUESTION, optimize_query=True, distance_threshold=0.2) == []
        prompt = await http.post(
            "/v1/memory/prompt",
            params={"optimize_query": "true"},
            json={"query": QUESTION, "long_term_search": {"distance_threshold": THRESHOLD}},
        )
        assert prompt.status_code == 200 and prompt.json()["long_term_memories"] is None
        async with Client(f"{url}/mcp") as mcp:
            found = await mcp.call_tool(
                "search_long_term_memory",
                {"text": QUESTION, "optimize_query": True, "distance_threshold": THRESHOLD},
            )
            assert not found.is_error
            assert json.loads(found.content[0].text)["total"] == 0  # type: ignore[union-attr]
        health = (await http.get("/v1/health")).json()
    feature = health["llm"]["features"]["query_optimisation"]
    assert feature["uses_llm"] is False and "ignored" in feature["without_llm"]


async def test_the_mcp_tools_pass_the_flag(settings: Settings, llm: FakeLLM) -> None:
    async with (
        served(build_app(with_llm(settings, llm.base_url))) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        await store(http)
        async with Client(f"{url}/{NS}/mcp") as mcp:
            asked = {"distance_threshold": THRESHOLD}
            plain = await mcp.call_tool("search_long_term_memory", {"text": QUESTION, **asked})
            assert json.loads(plain.content[0].text)["total"] == 0  # type: ignore[union-attr]
            assert llm.calls == []
            found = await mcp.call_tool(
                "search_long_term_memory", {"text": QUESTION, "optimize_query": True, **asked}
            )
            assert MEMORIES[0] in found.content[0].text  # type: ignore[union-attr]
            prompt = await mcp.call_tool(
                "memory_prompt", {"query": QUESTION, "optimize_query": True, **asked}
            )
            assert f"- {MEMORIES[0]} (ID: " in prompt.content[0].text  # type: ignore[union-attr]
    assert [c.user_json for c in llm.calls] == [{"question": QUESTION}]


async def test_the_cache_is_bounded_per_scope_and_keeps_short_texts_only(llm: FakeLLM) -> None:
    client = LLMClient(model="m", base_url=llm.base_url)
    rewriter = QueryRewriter(client, cache_size=2)
    llm.respond = lambda call: Answer.json({"query": "about " + call.user_json["question"][:9]})
    for text in ("one", "two", "one", "three", "one", "two"):
        assert await rewriter.rewrite(text) == f"about {text}"
    # one, two; one kept (now the newer); three evicts two; one kept; two evicts three
    assert [c.user_json["question"] for c in llm.calls] == ["one", "two", "three", "two"]
    long = "x" * (MAX_CACHED_CHARS + 1)
    for _ in range(2):
        assert await rewriter.rewrite(long) == "about xxxxxxxxx"
    assert len(llm.calls) == 6  # rewritten each time
    # kept per caller scope: another tenant's identical words cost a call of their own
    assert await rewriter.rewrite("two", Within(("team-b",), None)) == "about two"
    assert len(llm.calls) == 7
    await rewriter.aclose()
    await client.aclose()
