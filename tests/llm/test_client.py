"""The LLM client against a real OpenAI-compatible HTTP server (tests/llm_server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from remem.errors import LLMOutputInvalid, LLMUnavailable
from remem.llm.client import LLMClient, extract_json
from tests.llm_server import Answer, FakeLLM, llm_server


class Fact(BaseModel):
    text: str
    confidence: float


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with llm_server() as server:
        yield server


def client_of(llm: FakeLLM, **kw: float) -> LLMClient:
    return LLMClient(model="test-model", base_url=llm.base_url, api_key="k", **kw)  # type: ignore[arg-type]


ASK = [{"role": "user", "content": "Remember: Alice likes tea."}]
BROKEN = '{"text": "t", "confidence": "very"'


async def test_request_shape_model_messages_and_json_schema(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.script(Answer.json({"text": "Alice likes tea", "confidence": 0.9}))
    fact = await client.complete_json(ASK, Fact)
    assert fact == Fact(text="Alice likes tea", confidence=0.9)
    [call] = llm.calls
    assert call.model == "test-model" and call.body["temperature"] == 0
    assert call.messages[-1] == ASK[0]
    assert call.messages[0]["role"] == "system" and "JSON schema" in call.messages[0]["content"]
    assert call.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Fact", "schema": Fact.model_json_schema(), "strict": False},
    }
    assert (client.usage.calls, client.usage.completion_tokens) == (1, 6)  # words
    assert client.usage.prompt_tokens > 5
    await client.aclose()


async def test_default_answer_is_schema_valid(llm: FakeLLM) -> None:
    client = client_of(llm)
    assert await client.complete_json(ASK, Fact) == Fact(text="", confidence=0)
    await client.aclose()


async def test_retry_after_is_honoured(llm: FakeLLM) -> None:
    """A 429 with Retry-After: 1.5 is retried 1.5 s later (the SDK's own backoff would wait
    0.375-0.5 s first)."""
    client = client_of(llm)
    llm.script(Answer.error(429, retry_after=1.5), Answer.json({"text": "x", "confidence": 1}))
    await client.complete_json(ASK, Fact)
    first, second = llm.calls
    assert 1.4 <= second.at - first.at < 3.0
    await client.aclose()


async def test_500_is_retried_then_unavailable(llm: FakeLLM) -> None:
    client = client_of(llm, max_retries=1)
    llm.script(Answer.error(500, retry_after=0.1), Answer.json({"text": "x", "confidence": 1}))
    assert (await client.complete_json(ASK, Fact)).text == "x"
    llm.script(*[Answer.error(503, retry_after=0.1)] * 2)
    with pytest.raises(LLMUnavailable, match="503"):
        await client.complete_json(ASK, Fact)
    assert len(llm.calls) == 4  # 2 + 2: one try and one retry each
    await client.aclose()


async def test_unreachable_is_unavailable() -> None:
    client = LLMClient(model="m", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        await client.complete_json(ASK, Fact)
    await client.aclose()


async def test_prose_and_fences_around_the_json_are_tolerated(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.script(Answer.text('Sure! Here it is:\n```json\n{"text": "t", "confidence": 1}\n```\nBye'))
    assert (await client.complete_json(ASK, Fact)).text == "t"
    assert len(llm.calls) == 1
    await client.aclose()


async def test_malformed_answer_is_repaired_once(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.script(
        Answer.text(BROKEN),
        Answer.json({"text": "t", "confidence": 0.5}),
    )
    assert await client.complete_json(ASK, Fact) == Fact(text="t", confidence=0.5)
    _, repair = llm.calls
    assert repair.messages[-2] == {"role": "assistant", "content": BROKEN}
    assert "not valid" in repair.messages[-1]["content"]
    await client.aclose()


async def test_invalid_twice_raises_llm_output_invalid(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.script(Answer.text("no json here"), Answer.json({"text": "t"}))
    with pytest.raises(LLMOutputInvalid) as raised:
        await client.complete_json(ASK, Fact)
    assert raised.value.answer == '{"text": "t"}' and "confidence" in raised.value.reason
    assert len(llm.calls) == 2  # one repair, no more
    await client.aclose()


async def test_refused_json_schema_falls_back_to_json_object_then_text(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.refuse_json_schema = True
    llm.script(Answer.json({"text": "a", "confidence": 1}))
    assert (await client.complete_json(ASK, Fact)).text == "a"
    assert [(c.response_format or {}).get("type") for c in llm.calls] == [
        "json_schema",
        "json_object",
    ]
    assert client.mode == "json_object"  # remembered: the next call asks json_object first
    llm.refuse_json_object = True
    llm.script(Answer.json({"text": "b", "confidence": 1}))
    assert (await client.complete_json(ASK, Fact)).text == "b"
    assert [c.response_format for c in llm.calls[2:]] == [{"type": "json_object"}, None]
    await client.aclose()


async def test_a_refused_temperature_is_dropped(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.refuse_temperature = True
    llm.script(Answer.json({"text": "a", "confidence": 1}))
    assert (await client.complete_json(ASK, Fact)).text == "a"
    assert [c.body.get("temperature") for c in llm.calls] == [0.0, None]
    assert client.mode == "json_schema" and client.temperature is None
    await client.aclose()


async def test_other_400_is_unavailable_not_a_fallback(llm: FakeLLM) -> None:
    client = client_of(llm)
    llm.script(Answer.error(400, message="model not found"))
    with pytest.raises(LLMUnavailable, match="model not found"):
        await client.complete_json(ASK, Fact)
    assert client.mode == "json_schema" and len(llm.calls) == 1
    await client.aclose()


def test_extract_json() -> None:
    assert extract_json('x {"a": [1, {"b": 2}]} y {"c": 3}') == {"a": [1, {"b": 2}]}
    assert extract_json("{not json} [1, 2]") == [1, 2]
    with pytest.raises(ValueError):
        extract_json("nothing")
