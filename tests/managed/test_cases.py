"""The managed search matches ``topics`` without regard to case, as the managed API says, while
the Agent Memory Server API's search keeps matching them as written."""

from __future__ import annotations

import httpx
import pytest
from redis_agent_memory import errors

from tests.managed.conftest import STORE, Both
from tests.managed.test_memories import create, record, search


async def found(both: Both, topics: dict[str, object]) -> list[str]:
    page = await search(both, filter={"topics": topics}, limit=100)
    return sorted(m.id for m in page.items)


async def test_topics_match_in_any_case_through_the_managed_search(both: Both) -> None:
    await create(
        both,
        record("lower", "alice likes tea", topics=["tea"]),
        record("title", "bob likes tea too", owner="bob", topics=["Tea", "music"]),
        record("upper", "carol drinks coffee", owner="carol", topics=["COFFEE"]),
        record("none", "dan reads", owner="dan"),
    )
    assert await found(both, {"eq": "TEA"}) == ["lower", "title"]
    assert await found(both, {"in": ["coffee", "MUSIC"]}) == ["title", "upper"]
    assert await found(both, {"all": ["tEa", "Music"]}) == ["title"]
    assert await found(both, {"eq": "tea", "all": ["music"]}) == ["title"]
    assert await found(both, {"ne": "tea"}) == ["none", "upper"]
    assert await found(both, {"eq": "chess"}) == []
    assert await found(both, {"in": []}) == []

    async with httpx.AsyncClient(base_url=both.url) as http:  # the other API: as written
        body = {"text": "", "namespace": {"eq": STORE}, "topics": {"eq": "tea"}}
        r = await http.post("/v1/long-term-memory/search", json=body)
        assert r.status_code == 200, r.text
        assert [m["id"] for m in r.json()["memories"]] == ["lower"]


async def test_all_of_three_values_each_in_several_cases_is_a_400(both: Both) -> None:
    await create(
        both,
        *(record(f"m{i}", f"memory {i}", topics=[t]) for i, t in enumerate("aAbBcC")),
    )
    assert await found(both, {"all": ["a", "b"]}) == []  # no memory holds both
    with pytest.raises(errors.BadRequestErrorResponseContent) as caught:
        await found(both, {"all": ["a", "b", "c"]})
    assert "filter.topics" in caught.value.body
