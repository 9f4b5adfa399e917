"""The words of texts and queries for keyword search: stop words, stems, the terms the index
stores for a memory, and the words of a query (see ``memory.search`` for how they rank)."""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer  # type: ignore[import-untyped]

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
) | frozenset(
    # What \w+ leaves of contractions and possessives: "user's" is "user" and "s". As words they
    # matched every memory written "User's ...", and a short such memory then outscored the
    # answer: "What is the user's job?" put "User's dentist is Dr. Gomez" first
    # (eval/facts_that_change.py: 45 -> 46 of 48 cases; LoCoMo end to end unchanged).
    {"s", "t", "d", "ll", "m", "re", "ve"}
)
_WORD = re.compile(r"\w+")
FIRST_PERSON = frozenset({"i", "me", "my", "mine", "myself"})
USER_ROLE = "user"
# The index stores stems (its own stemmer is off for this field): RediSearch's expands a query word
# into the word and its stem, and a word whose stem differs then counted twice.
_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=1 << 17)  # a vocabulary repeats: pure-Python Snowball costs ~25 us a word
def _stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


def keywords(text: str) -> list[str]:
    """The words of ``text`` a keyword search looks for: lower case, no stop words, stemmed
    (Snowball English, as the index stores them), no repeats."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    # A stem can be a stop word ("wills" -> "will"), which the engine does not index and drops
    # from a query: with a filter beside it, the query then matched every filtered memory.
    stems = (_stem(w) for w in words)
    return list(dict.fromkeys(s for s in stems if s and s not in STOP_WORDS))


def index_terms(text: str) -> str:
    """What the index reads for keyword search: every word of ``text``, lower case, stemmed.

    Repeats are kept: the engine's ``BM25STD`` saturates a word's count (twelve mentions weigh
    less than 2.2 single ones), so a memory that says a word more is a little more about it.
    Under RediSearch's legacy ``BM25``, which does not saturate, a context window repeating a
    name five times outscored the turn that answers, and each word was read once (LoCoMo keyword
    recall@10 0.695 -> 0.731); since ``BM25STD`` counting repeats measures better: end to end
    (``eval/locomo_e2e.py``) hybrid recall@10 0.788 -> 0.793 (speaker_a the user: 0.784 ->
    0.792), keyword 0.770 -> 0.773. Stemming here rather than in the engine lifted keyword
    recall@10 from 0.731 to 0.742. Memories stored before keep their terms until ``remem
    reindex`` rewrites them.
    """
    return " ".join(_stem(w) for w in _WORD.findall(text.lower()))


def search_terms(text: str, search_text: str | None) -> str:
    """What the index reads for keyword search of a memory: the words of its ``search_text``,
    and when that text adds context to the memory's own ``text``, the words of the text
    once more, so a memory that says the words outscores its neighbours, whose keyword text
    only quotes them.

    Measured end to end on LoCoMo (``eval/locomo_e2e.py``: extraction's keyword text of the
    date, two messages before and two after each message): keyword recall@5 0.674 -> 0.696,
    @10 0.757 -> 0.771; hybrid @5 0.703 -> 0.717, @10 unchanged (0.788). In an ordinary chat,
    "What is my job?" had matched every user turn within two messages of the assistant's
    "Your job sounds demanding" before the user's own "I work as a pediatric nurse"
    (``tests/behaviour/test_users_own_words.py``). Memories stored before this keep their
    terms until ``remem reindex`` rewrites them.
    """
    if not search_text or search_text == text:
        return index_terms(text)
    return f"{index_terms(search_text)} {index_terms(text)}"


def words_of(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


def names(query: tuple[str, ...], entity: str) -> bool:
    """Whether the words of ``entity`` occur in a row among the ``query`` words."""
    wanted = words_of(entity)
    width = len(wanted)
    if not width:
        return False
    return any(query[i : i + width] == wanted for i in range(len(query) - width + 1))
