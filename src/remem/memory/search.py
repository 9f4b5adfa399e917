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
    ``search_text``, a word's repeats saturating (see ``index_terms``). The query is split
    into words, English stop words (and words whose stem is one) are dropped here and the words
    are OR-ed, each with the filter (``store.query.text_any_where``). ``total`` is exact. A
    query with no words left lists the filtered memories newest first.

    A word that every filtered memory holds is weighted 0.0001 (``Searcher._faint``): it
    cannot tell them apart, so it never outweighs a word that can, and still orders memories
    that hold nothing else (shorter first, as BM25 does). RediSearch 2.10's ``BM25STD`` needs
    this: it computes a word's IDF with unsigned integers, and once the word's postings
    (counting those of updated or deleted memories its garbage collector has not yet removed,
    which it leaves until 100 have gathered) outnumber the memories indexed, the IDF wraps from
    about 0 to about 38 and that one word outweighs all others. Extracted memories all start
    "User ...": "the user" in a question then ranked by length alone, or not, depending on when
    the collector last ran. Whether a word is in every filtered memory is asked only when the
    words together matched all of them, with one count a word, kept until the next write
    (``GenerationCache.counts_at``). The search itself weights the words the kept counts name
    (``_faint_guess``); only a wrong guess (a write since) searches again.
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
extraction changes of ``background.extraction``, 0.788 / 0.770 / 0.562 after (with faint words),
0.793 / 0.773 / 0.562 counting repeated words. ``semantic`` stays a pure vector search.

Filters the caller gave are never dropped, even when nothing matches.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from operator import itemgetter

import numpy as np

from remem.memory.words import FIRST_PERSON, STOP_WORDS, USER_ROLE, keywords, names, words_of
from remem.models.search import SearchRequest
from remem.store.longterm import Facts, LongTermStore
from remem.store.query import Filter

DAY = 86_400.0
# Past this many distinct entities, a search after a write does not reread them (reading the
# index's tag values and parsing them grow with the values) to learn whether its query names one.
ENTITY_VALUES_REREAD_MAX = 2_000


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
        checked, faint = False, self._faint_guess(query, words)
        while True:
            if words:
                total, found, generation = await self.store.cache.keyword(query, words, k, faint)
                if not checked:
                    checked, guess = True, faint
                    if (faint := await self._faint(query, words, total, generation)) != guess:
                        total, found = await self.store.index.keyword(query, words, k, faint)
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
        k = candidate_count(req)
        guess = self._faint_guess(query, words)
        found = await self.store.candidates(
            query, vector, k, words=words, max_distance=threshold, faint=guess
        )
        if words:
            matches, generation = found.counts.matches, found.generation
            faint = await self._faint(query, words, found.keyword_total, generation, matches)
            if faint != guess:
                _, keyword = await self.store.index.keyword(query, words, k, faint)
                found = replace(found, keyword=keyword)  # the same memories, scored anew
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

    def _faint_guess(self, query: Filter, words: list[str]) -> frozenset[str]:
        """What ``_faint`` found the last time, from the counts kept (a write since may have
        changed them: the search confirms the guess after, and only a wrong one costs a second
        keyword search)."""
        if not words:
            return frozenset()
        each = [self.store.index.keyword_query(query, (w,)) for w in words]
        matches, *held = self.store.cache.kept([query, *each])
        if matches is None:
            return frozenset()
        return frozenset(
            w for w, n in zip(words, held, strict=True) if n is not None and n >= matches
        )

    async def _faint(
        self,
        query: Filter,
        words: list[str],
        total: int,
        generation: str | None,
        matches: int | None = None,
    ) -> frozenset[str]:
        """The ``words`` every memory matching ``query`` holds (see the module's docstring),
        asked only when the ``total`` memories holding any of them are all of the ``matches``
        (counted here when not given)."""
        if not total:
            return frozenset()
        if matches is None:
            [matches] = await self.store.cache.counts_at([query], generation)
        if total < matches:
            return frozenset()
        each = [self.store.index.keyword_query(query, (w,)) for w in words]
        held = await self.store.cache.counts_at(each, generation)
        return frozenset(w for w, n in zip(words, held, strict=True) if n >= matches)
