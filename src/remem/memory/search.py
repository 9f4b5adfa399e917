"""Ranking of long-term memories: semantic, keyword and hybrid search, and the recency boost.

Modes
-----
semantic
    KNN over the filtered memories (``LongTermStore.candidates``); with a
    ``distance_threshold`` only memories with cosine distance <= threshold (a vector range).
    Similarity is ``1 - dist``. ``total`` is the exact number of filtered memories (within the
    threshold, when one is given).
keyword
    Okapi BM25 (the engine's ``BM25STD``: the sum over the query words a memory holds) on
    ``search_text``, each word counted once per memory (see ``index_terms``). The query is split
    into words, English stop words (and words whose stem is one) are dropped here and the words
    are OR-ed, each with the filter (``store.query.text_any_where``). ``total`` is exact. A
    query with no words left lists the filtered memories newest first.
hybrid
    The best ``N = max(100, 3 * (offset + limit))`` memories of each of the two searches above.
    Each list is min-max normalised to [0, 1] (a memory missing from a list scores 0 there; a
    list whose scores are all equal scores 1), then::

        score = alpha * semantic + (1 - alpha) * bm25        alpha = hybrid_alpha (0.35)

    0.35 semantic / 0.65 BM25 with min-max fusion was measured best on LoCoMo, beating
    reciprocal-rank fusion by 0.05-0.09 recall@10. ``total`` is the size of the union of the
    semantic and keyword matches: exact (inclusion-exclusion over three counts) with a
    threshold; without one every filtered memory is a semantic match, so it is the filtered
    count.

Recency boost (on by default, as in the Agent Memory Server)
------------------------------------------------------------
::

    score = sw * relevance + rw * (fw * 2^(-days_since_access / hl_access)
                                   + nw * 2^(-days_since_created / hl_created))

where relevance is ``1 - dist`` (semantic), the fused score (hybrid) or the min-max normalised
BM25 score (keyword). It re-ranks the candidate set, the best ``max(100, 3 * (offset + limit))``
memories by relevance, before paging (the Agent Memory Server re-ranks one page only). The dates
and entities of the candidates are read in one round trip, skipping those so far behind that no
boost could lift them onto the page (``contenders``).

Without the boost the order is the relevance, and the search grows past ties at the end of the
page so a page never depends on which of two equal memories the engine returned first.

Entity boost (remem)
--------------------
A memory one of whose ``entities`` the query names (as whole words, case-insensitively: the
entity "New York" in "what did Ann do in new york?") gets ``entity_boost`` (0.3) added to its
relevance before the recency boost. Questions about a person then prefer memories about that
person: on LoCoMo, with each turn's speaker as its entity, this lifted hybrid recall@10 by about
0.03. The relevance of keyword search is its min-max normalised BM25 score, so the boost means
the same in every mode.

First-person boost (remem)
--------------------------
Without an LLM every message is a memory, the assistant's replies too, and a reply often
repeats the user's subject in more words: in a 20-turn chat, "What is my job?" found three
assistant turns before the user's "I work as a pediatric nurse". A query in the first person
("I", "me", "my", "mine", "myself") therefore

- adds ``first_person_boost`` (0.2) to the relevance of memories whose ``role`` is "user"
  (what extraction records for the user's messages), before the recency boost; and
- embeds only its content words (the query's words less the stop words: "job"), since the
  bundled static model's vector of "What is my job?" is mostly its function words: of the
  user's ten turns in ``tests/behaviour/test_users_own_words.py`` it put "Great. My sister is
  visiting on Sunday too." nearest and the nurse 7th; "job" puts the nurse first. Embedding
  every query that way lowered LoCoMo semantic recall@10 from 0.549 to 0.484 (its questions
  name third persons), so only first-person questions are embedded so.

That test keeps "What is my job?" and "What pets do I have?" finding the user's turn in the top
3 with no ``search_mode``; with a boost of 0 the user's job came 17th of 20 in semantic search.
LoCoMo's questions are in the third person, so its figures do not move.

Default mode
------------
A request that names no ``search_mode`` (the official ``agent-memory-client`` has no such
parameter) is a hybrid search, the mode that finds the most: end to end on LoCoMo
(``eval/locomo_e2e.py``) recall@10 0.742 hybrid, 0.707 keyword, 0.549 semantic before the
extraction changes of ``background.extraction``, 0.788 / 0.771 / 0.562 after. ``semantic`` named
explicitly stays a pure vector search.

Filters the caller gave are never dropped, even when nothing matches.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from operator import itemgetter

import numpy as np
import snowballstemmer  # type: ignore[import-untyped]

from remem.models.search import SearchRequest
from remem.store.longterm import Facts, LongTermStore
from remem.store.query import Filter

DAY = 86_400.0
# Past this many distinct entities, a search after a write does not reread them (reading the
# index's tag values and parsing them grow with the values) to learn whether its query names one.
ENTITY_VALUES_REREAD_MAX = 2_000

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
    """What the index reads for keyword search: each word of ``text`` once, lower case, stemmed.

    RediSearch's legacy ``BM25`` counts a word's occurrences without BM25's saturation, so a
    context window that repeats a name five times outscored the turn that answers. Counting each
    word once per memory lifted LoCoMo keyword recall@10 from 0.695 to 0.731 (hybrid 0.747 to
    0.769), and stemming here rather than in the engine to 0.742 (hybrid 0.793). With
    ``BM25STD``, which saturates, counting repeats measured better (keyword 0.772 against 0.761,
    hybrid 0.803 against 0.791); changing it means rewriting stored terms (``remem reindex``).
    """
    return " ".join(dict.fromkeys(_stem(w) for w in _WORD.findall(text.lower())))


def search_terms(text: str, search_text: str | None) -> str:
    """What the index reads for keyword search of a memory: the words of its ``search_text``
    once, and when that text adds context to the memory's own ``text``, the words of the text
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


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scale to [0, 1]; all-equal scores become 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def recency_components(
    req: SearchRequest, created_at: np.ndarray, last_accessed: np.ndarray, now: float
) -> np.ndarray:
    """``fw * freshness + nw * novelty`` of each memory, in one numpy pass (a search boosts
    hundreds)."""
    since_access = np.maximum(0.0, now - last_accessed) / DAY
    since_created = np.maximum(0.0, now - created_at) / DAY
    fresh = np.exp2(-since_access / req.recency_half_life_last_access_days)
    novel = np.exp2(-since_created / req.recency_half_life_created_days)
    out: np.ndarray = req.recency_freshness_weight * fresh + req.recency_novelty_weight * novel
    return out


def contenders(
    req: SearchRequest,
    relevance: dict[str, float],
    *,
    entities: bool,
    floor: float | None = None,
    user: bool = False,
) -> dict[str, float]:
    """The candidates that can still reach the page once boosted.

    The boosts add between 0 and ``reach`` to a candidate's weighted relevance, so one whose
    best possible score is below ``floor`` cannot make the page, and its facts need not be
    read. ``floor`` is a score that ``offset + limit`` candidates are known to reach: by
    default the worst possible score of the best ``offset + limit``; the boosted score of each
    of them, once known, is a higher one.
    """
    need = req.offset + req.limit
    if len(relevance) <= need:
        return relevance
    weight = req.recency_semantic_weight if req.recency_boost else 1.0
    reach = weight * req.entity_boost if entities else 0.0
    if user:
        reach += weight * req.first_person_boost
    if req.recency_boost:
        reach += req.recency_recency_weight * (
            req.recency_freshness_weight + req.recency_novelty_weight
        )
    if floor is None:
        floor = sorted(relevance.values(), reverse=True)[need - 1] * weight
    floor -= 1e-9  # rounding; a tie at the floor may still win on its id
    return {i: r for i, r in relevance.items() if r * weight + reach >= floor}


def first_person(req: SearchRequest) -> bool:
    """Whether the first-person boost applies: on, and the query says "I", "me", "my"..."""
    return req.first_person_boost > 0 and not FIRST_PERSON.isdisjoint(words_of(req.text))


def semantic_text(req: SearchRequest) -> str:
    """What a search embeds: its text, or for a first-person question its content words."""
    if first_person(req) and (content := [w for w in words_of(req.text) if w not in STOP_WORDS]):
        return " ".join(content)
    return req.text


class Boosts:
    """The entity, first-person and recency boosts of one search. ``query`` is empty when the
    entity boost cannot apply (off, or no memory has an entity the query names); ``user``
    says whether the first-person boost does."""

    def __init__(
        self, req: SearchRequest, now: float, query: tuple[str, ...], *, user: bool = False
    ) -> None:
        self.req, self.now, self.query, self.user = req, now, query, user
        self._named: dict[str, bool] = {}  # entity -> whether the query names it

    @property
    def active(self) -> bool:
        return self.req.recency_boost or bool(self.query) or self.user

    def _names_one(self, entities: list[str]) -> bool:
        for entity in entities:
            if entity not in self._named:
                self._named[entity] = names(self.query, entity)
            if self._named[entity]:
                return True
        return False

    def scores(self, relevance: dict[str, float], facts: dict[str, Facts]) -> dict[str, float]:
        """Boosted scores of the candidates in ``relevance`` (each must be in ``facts``)."""
        req = self.req
        if self.query:
            boost = req.entity_boost
            relevance = {
                i: r + boost if self._names_one(facts[i].entities) else r
                for i, r in relevance.items()
            }
        if self.user:
            boost = req.first_person_boost
            relevance = {
                i: r + boost if facts[i].role == USER_ROLE else r for i, r in relevance.items()
            }
        if not req.recency_boost:
            return relevance
        ids = list(relevance)
        rows = [facts[i] for i in ids]
        component = recency_components(
            req,
            np.fromiter((f.created_at for f in rows), float, len(rows)),
            np.fromiter((f.last_accessed for f in rows), float, len(rows)),
            self.now,
        )
        sw, rw = req.recency_semantic_weight, req.recency_recency_weight
        weighted = sw * np.fromiter(relevance.values(), float, len(ids)) + rw * component
        return dict(zip(ids, weighted.tolist(), strict=True))


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    dist: float | None  # None: not known from the search (filled in from the stored vector)


# A generation token no read returns: the search did not read the generation.
UNSEEN = "\x00unseen"


@dataclass(frozen=True)
class Ranking:
    total: int
    hits: list[Hit]  # the requested page only
    vector: np.ndarray | None  # the query's embedding, when one was computed
    generation: str | None = UNSEEN  # the store's generation token, read with the search


@dataclass(frozen=True)
class Candidates:
    """What a mode found: the total, each candidate's relevance (higher is better) and the
    distances known from a vector search."""

    total: int
    relevance: dict[str, float]
    dists: dict[str, float]
    generation: str | None = UNSEEN


Embed = Callable[[str], Awaitable[np.ndarray]]


def candidate_count(req: SearchRequest) -> int:
    return max(100, 3 * (req.offset + req.limit))


def reranks(req: SearchRequest) -> bool:
    """Whether something beyond relevance orders the results (so candidates are gathered)."""
    return req.recency_boost or req.entity_boost > 0 or first_person(req)


@dataclass
class Searcher:
    store: LongTermStore
    embed: Embed
    # the last entity values read, and the same by first word
    _entity_values: Sequence[str] = field(default=(), init=False, repr=False)
    _entities_by_first: dict[str, list[str]] = field(default_factory=dict, init=False, repr=False)

    async def search(self, req: SearchRequest, query: Filter | None, now: float) -> Ranking:
        """Rank the memories matching ``query`` (None: nothing matches) for ``req``."""
        if query is None:
            return Ranking(0, [], None)
        vector = None
        if req.search_mode == "keyword":
            found = await self._keyword(req, query)
        else:
            vector = await self.embed(semantic_text(req))
            if req.search_mode == "hybrid":
                found = await self._hybrid(req, query, vector)
            else:
                found = await self._semantic(req, query, vector)
        hits = await self._rank(req, found, now)
        return Ranking(found.total, hits, vector, found.generation)

    async def _rank(self, req: SearchRequest, found: Candidates, now: float) -> list[Hit]:
        """The page of ``found``: by relevance, plus the entity and recency boosts."""
        scores = found.relevance
        query = words_of(req.text) if req.entity_boost > 0 else ()
        # Reading the best candidates' facts first pays when the others are many and their
        # relevance is continuous. BM25 over short memories takes few distinct values, so the
        # floor seldom rises: for keyword search the second read was measured to cost more
        # (9% more server CPU) than it saved.
        in_two = req.search_mode != "keyword" and len(scores) > 2 * (req.offset + req.limit)
        if in_two and query and not await self._names_an_entity(query):
            query = ()  # no boost to look for: candidates need dates at most
        boosts = Boosts(req, now, query, user=first_person(req))
        if boosts.active:
            facts = await self._facts(req, scores, boosts, in_two=in_two)
            scores = boosts.scores({i: r for i, r in scores.items() if i in facts}, facts)
        order = sorted(scores, key=lambda i: (-scores[i], i))
        page = order[req.offset : req.offset + req.limit]
        return [Hit(i, scores[i], found.dists.get(i)) for i in page]

    async def _names_an_entity(self, query: tuple[str, ...]) -> bool:
        """Whether ``query`` names an entity that some memory has (the index's entity values,
        looked up by their first word). After a write the values are read again, unless they
        were many: then the answer is yes, which only costs the pruning it would have allowed."""
        values = await self.store.cache.kept_tag_values("entities")
        if values is None:  # written since they were read
            if len(self._entity_values) > ENTITY_VALUES_REREAD_MAX:
                return True  # rereading many would cost more than it saves: assume named
            values = await self.store.cache.read_tag_values("entities")
        if values is not self._entity_values:
            by_first: dict[str, list[str]] = {}
            for value in values:
                if words := words_of(value):
                    by_first.setdefault(words[0], []).append(value)
            self._entity_values, self._entities_by_first = values, by_first
        by_first = self._entities_by_first
        return any(names(query, v) for w in set(query) for v in by_first.get(w, ()))

    async def _facts(
        self, req: SearchRequest, relevance: dict[str, float], boosts: Boosts, *, in_two: bool
    ) -> dict[str, Facts]:
        """The facts of every candidate that can still reach the page (none of the others).

        ``in_two``, when many candidates are within reach of the best: the best ``offset +
        limit`` are read first, and their boosted scores raise the floor a candidate must be
        able to reach, which usually leaves few others to read. A deleted candidate lowers the
        floor, so then all are read.
        """
        entities, user = bool(boosts.query), boosts.user
        fetch = partial(
            self.store.documents.facts, dates=req.recency_boost, entities=entities, roles=user
        )
        wanted = contenders(req, relevance, entities=entities, user=user)
        need = req.offset + req.limit
        facts: dict[str, Facts] = {}
        if in_two and len(wanted) > 2 * need:
            best = dict(heapq.nlargest(need, relevance.items(), key=itemgetter(1)))
            facts = await fetch(list(best))
            if len(facts) == need:
                floor = min(boosts.scores(best, facts).values())
                wanted = contenders(req, relevance, entities=entities, floor=floor, user=user)
        if rest := [i for i in wanted if i not in facts]:
            facts |= await fetch(rest)
        if len(wanted) < len(relevance) and any(i not in facts for i in wanted):
            facts |= await fetch([i for i in relevance if i not in wanted])
        return facts

    async def _semantic(self, req: SearchRequest, query: Filter, vector: np.ndarray) -> Candidates:
        threshold = req.distance_threshold
        need = req.offset + req.limit
        k = candidate_count(req) if reranks(req) else need + 1
        start = await self.store.candidates(query, vector, k, max_distance=threshold)
        total = start.counts.matches if threshold is None else start.within
        if total == 0 or req.offset >= total:
            return Candidates(total, {}, {}, start.generation)
        found = start.nearest
        while not (reranks(req) or len(found) < k or len(found) >= total):
            if found[need - 1].value < found[-1].value:
                break  # no tie across the end of the page: the page is exact
            k *= 4
            found = await self.store.index.nearest(
                query, vector, k, max_distance=threshold, counts=start.counts
            )
        dists = {c.id: c.value for c in found}
        return Candidates(total, {i: 1.0 - d for i, d in dists.items()}, dists, start.generation)

    async def _keyword(self, req: SearchRequest, query: Filter) -> Candidates:
        need = req.offset + req.limit
        k = candidate_count(req) if reranks(req) else need + 1
        words = keywords(req.text)
        generation: str | None = UNSEEN
        while True:
            if words:
                total, found, generation = await self.store.cache.keyword(query, words, k)
            else:  # no words: newest first, scored by created_at
                total, found = await self.store.index.recent(query, k)
            if reranks(req) or len(found) < k or len(found) >= total:
                break
            if found[need - 1].value > found[-1].value:
                break  # no tie across the end of the page
            k *= 4
        raw = {c.id: c.value for c in found}
        if not words:  # newest first, or (boosted) by recency alone
            newest = dict.fromkeys(raw, 1.0) if req.recency_boost else min_max(raw)
            return Candidates(total, newest, dict.fromkeys(raw, 0.0))
        relevance = min_max(raw)
        dists = {i: 1.0 - r for i, r in relevance.items()}
        return Candidates(total, relevance, dists, generation)

    async def _hybrid(self, req: SearchRequest, query: Filter, vector: np.ndarray) -> Candidates:
        threshold = req.distance_threshold
        words = keywords(req.text)
        found = await self.store.candidates(
            query, vector, candidate_count(req), words=words, max_distance=threshold
        )
        if threshold is None:
            total = found.counts.matches
        else:  # the union of the matches within the distance and the keyword matches
            total = found.within + found.keyword_total - found.keyword_within
        sem = min_max({c.id: 1.0 - c.value for c in found.nearest})
        lex = min_max({c.id: c.value for c in found.keyword})
        alpha = req.hybrid_alpha
        fused = {
            i: alpha * sem.get(i, 0.0) + (1.0 - alpha) * lex.get(i, 0.0)
            for i in lex.keys() | sem.keys()
        }
        dists = {c.id: c.value for c in found.nearest}
        return Candidates(total, fused, dists, found.generation)
