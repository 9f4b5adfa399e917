"""Any search text is a valid keyword or hybrid search (or an empty result), never a 5xx: query
syntax in the text must not reach the engine as syntax."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remem.memory.words import STOP_WORDS, keywords, words_of

LTM = "/v1/long-term-memory"
# Characters the query language gives a meaning, and some that tokenizers treat unusually.
SYNTAX = "_#%@-*\"|~:$(){}[]<>=!?&^+;,.'`/\\\t\n \u00a0\u200b"
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(SYNTAX + "ab_1é日"), max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12).map(lambda w: w * 300),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=texts, mode=st.sampled_from(["keyword", "hybrid"]))
@example(text="_", mode="keyword")
@example(text="#_", mode="hybrid")
@example(text="%", mode="keyword")
@example(text="a" * 20_000, mode="keyword")
@example(text="__init__ x-y a*b ~c {d} $e 'f' \"g\" h|i j:k", mode="keyword")
async def test_no_search_text_is_a_server_error(
    client: httpx.AsyncClient, text: str, mode: str
) -> None:
    r = await client.post(f"{LTM}/search", json={"text": text, "search_mode": mode})
    assert r.status_code < 500, r.text


WORDY = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Pc"]), min_size=1)
# What the engine leaves out of its index (RediSearch 2.10 with the index's default settings): its
# own stop words (remem drops them from queries too) and terms over 128 bytes.
ENGINE_STOP_WORDS = frozenset(
    """a is the an and are as at be but by for if in into it no not of on or such that their
    then there these they this to was will with""".split()  # noqa: SIM905 - reads as text
)


def indexed(stem: str) -> bool:
    return stem not in ENGINE_STOP_WORDS and len(stem.encode()) <= 128


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A text that is only whitespace (str.strip's, \x1c-\x1f included) is refused at create.
@given(
    text=st.one_of(
        st.text(min_size=1).filter(str.strip),
        st.lists(WORDY, min_size=1, max_size=6).map(" ".join),
    )
)
@example(text="__init__ foo_bar _ a_b")
@example(text="wills")
@example(text="x" * 200)
@example(text="Straße İstanbul ǅemal café 日本語")
async def test_a_memory_is_found_by_each_of_its_words(client: httpx.AsyncClient, text: str) -> None:
    """Each word of a memory that the index holds finds it (the other memory has none of them);
    a word it does not hold (over 128 bytes) finds nothing rather than failing."""
    r = await client.post(
        f"{LTM}/",
        json={
            "memories": [{"id": "m", "text": text}, {"id": "other", "text": "qqqzx"}],
            "deduplicate": False,
        },
    )
    assert r.status_code == 200, r.text
    for word in set(words_of(text)) - STOP_WORDS - {"qqqzx"}:
        r = await client.post(f"{LTM}/search", json={"text": word, "search_mode": "keyword"})
        assert r.status_code == 200, r.text
        found = [m["id"] for m in r.json()["memories"]]
        if not keywords(word):  # its stem is a stop word: no words left, newest first
            assert sorted(found) == ["m", "other"], word
        else:
            assert found == (["m"] if all(indexed(k) for k in keywords(word)) else []), word


async def test_an_underscore_tag_is_stored_and_filtered(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{LTM}/",
        json={"memories": [{"id": "u", "text": "tea", "namespace": "_", "topics": ["_"]}]},
    )
    assert r.status_code == 200, r.text
    for body in ({"namespace": {"eq": "_"}}, {"topics": {"any": ["_", "a_b"]}}):
        r = await client.post(f"{LTM}/search", json={"text": "tea", **body})
        assert r.status_code == 200, r.text
        assert [m["id"] for m in r.json()["memories"]] == ["u"]
