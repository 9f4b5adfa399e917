"""The managed search filters on typed ``attributes``: each value indexed as a tag of the
long-term index (a query, not a scan), a filter of the wrong shape a 400 naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from remem.models.search import SearchRequest, TagFilter
from remem.store.longterm.attributes import attribute_tags, tag
from tests.managed.conftest import STORE, Both
from tests.managed.test_memories import create, record, search


async def found(both: Both, attributes: dict[str, object], op: str = "all") -> list[str]:
    page = await search(both, filter={"attributes": attributes}, filter_op=op, limit=100)
    return sorted(m.id for m in page.items)


async def posted(both: Both, attributes: dict[str, object]) -> Any:
    """The search sent as JSON (the SDK checks a filter's types before sending it)."""
    body = {"filter": {"attributes": attributes}, "limit": 100}
    async with httpx.AsyncClient(base_url=both.url) as http:
        r = await http.post(f"/v1/stores/{STORE}/long-term-memory/search", json=body)
    if r.status_code != 200:
        return r
    return sorted(m["id"] for m in r.json()["items"])


MEMORIES = [
    record("calm", "a calm walk", attributes={"mood": "calm", "stars": 4, "tags": ["a", "b"]}),
    record("calm5", "a calm swim", attributes={"mood": "calm", "stars": 5.0, "done": True}),
    record("tense", "a tense meeting", attributes={"mood": "tense, odd {x}", "tags": ["b"]}),
    record("obj", "an object", attributes={"mood": {"deep": "calm"}, "nums": [1, 2.5]}),
    record("plain", "no attributes"),
]


async def test_attributes_filter_by_type_and_value(both: Both) -> None:
    await create(both, *MEMORIES)
    assert await found(both, {"mood": {"string": "calm"}}) == ["calm", "calm5"]
    assert await found(both, {"mood": {"string": "tense, odd {x}"}}) == ["tense"]
    assert await found(both, {"stars": {"number": 5}}) == ["calm5"]  # 5.0 is 5
    assert await found(both, {"stars": {"number": 4.0}}) == ["calm"]
    assert await found(both, {"stars": {"string": "4"}}) == []  # a string is not a number
    assert await found(both, {"done": {"boolean": True}}) == ["calm5"]
    assert await found(both, {"done": {"boolean": False}}) == []
    assert await found(both, {"tags": {"list": ["b"]}}) == ["calm", "tense"]
    assert await found(both, {"tags": {"list": ["a", "b"]}}) == ["calm"]  # contains all
    assert await found(both, {"tags": {"string": "b"}}) == []  # a list's item is not a string
    assert await posted(both, {"nums": {"list": [2.5, 1]}}) == ["obj"]  # the SDK sends text
    assert await found(both, {"mood": {"string": "calm"}, "stars": {"number": 4}}) == ["calm"]
    either = {"mood": {"string": "tense, odd {x}"}, "stars": {"number": 4}}
    assert await found(both, either, op="any") == ["calm", "tense"]


async def test_a_changed_attribute_is_found_by_its_new_value(both: Both) -> None:
    await create(both, *MEMORIES)
    await both.sdk.update_long_term_memory_fields_async(
        memory_id="calm", memory_type="semantic", attributes={"mood": "glad"}
    )
    assert await found(both, {"mood": {"string": "glad"}}) == ["calm"]
    assert await found(both, {"mood": {"string": "calm"}}) == ["calm5"]
    assert await found(both, {"stars": {"number": 4}}) == []


@pytest.mark.parametrize(
    "condition",
    [
        {"string": 5},
        {"number": "5"},
        {"number": True},
        {"boolean": "true"},
        {"list": []},
        {"list": [True]},
        {"list": "a"},
        {},
        {"string": "a", "number": 1},
        {"string": None},
    ],
)
async def test_a_condition_of_the_wrong_type_is_a_400_naming_the_field(
    both: Both, condition: dict[str, object]
) -> None:
    answer = await posted(both, {"mood": condition})
    assert isinstance(answer, httpx.Response) and answer.status_code == 400, answer
    named = [f["field"] for f in answer.json()["fields"]]
    assert any(f.startswith("filter.attributes.mood") for f in named), named


def test_two_conditions_on_attributes_are_tags_of_one_indexed_field() -> None:
    """Searched as ``@attribute_tags:{...}``, as any tag: the index answers the filter."""
    tags = attribute_tags({"attributes": {"mood": "calm", "n": 1.0, "l": ["x", 2], "o": {}}})
    assert tags == [
        tag("string", "mood", "calm"),
        tag("number", "n", "1"),
        tag("list:string", "l", "x"),
        tag("list:number", "l", "2"),
    ]
    assert attribute_tags({"attributes": {"mixed": ["x", True]}}) == []  # not filterable
    request = SearchRequest(text="", attribute_tags=TagFilter(all=tags[:1]))
    assert request.attribute_tags is not None
