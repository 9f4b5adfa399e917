"""Ranking of long-term memories: semantic, keyword and hybrid search, and the recency boost.

Modes
-----
semantic
    KNN over the filtered memories (``(filter)=>[KNN K @embedding $vec AS dist]``); with a
    ``distance_threshold`` only memories with cosine distance <= threshold (VECTOR_RANGE).
    Similarity is ``1 - dist``. ``total`` is the exact number of filtered memories (within the
    threshold, when one is given).
keyword
    BM25 on ``search_text``: the query is split into words, English stop words are dropped here
    and the words are OR-ed (``@search_text:(w1|w2|...)``). ``total`` is exact. A query with no
    words left lists the filtered memories newest first.
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
BM25 score (keyword). It re-ranks the whole candidate set before paging. In semantic mode the
set grows until the page is provably exact: no memory outside it can score above the page's
last, since its relevance is at most the last candidate's and recency adds at most
``rw * (fw + nw)``. In keyword and hybrid modes the candidates are the ``N`` above.

Filters the caller gave are never dropped, even when nothing matches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from remem.models.search import SearchRequest
from remem.store.longterm import Candidate, LongTermStore

DAY = 86_400.0

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
)
_WORD = re.compile(r"\w+")


def keywords(text: str) -> list[str]:
    """The words of ``text`` a keyword search looks for: lower case, no stop words, no repeats."""
    words = (w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS)
    return list(dict.fromkeys(words))


def min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scale to [0, 1]; all-equal scores become 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low <= 1e-12:
        return dict.fromkeys(scores, 1.0)
    return {k: (v - low) / (high - low) for k, v in scores.items()}


def recency_component(req: SearchRequest, c: Candidate, now: float) -> float:
    """``fw * freshness + nw * novelty`` of one candidate."""
    since_access = max(0.0, now - c.last_accessed) / DAY
    since_created = max(0.0, now - c.created_at) / DAY
    fresh = math.pow(2.0, -since_access / req.recency_half_life_last_access_days)
    novel = math.pow(2.0, -since_created / req.recency_half_life_created_days)
    return req.recency_freshness_weight * fresh + req.recency_novelty_weight * novel


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    dist: float | None  # None: not known from the search (filled in from the stored vector)


@dataclass(frozen=True)
class Ranking:
    total: int
    hits: list[Hit]  # the requested page only
    vector: np.ndarray | None  # the query's embedding, when one was computed


Embed = Callable[[str], Awaitable[np.ndarray]]


@dataclass
class Searcher:
    store: LongTermStore
    embed: Embed

    async def search(self, req: SearchRequest, query: str | None, now: float) -> Ranking:
        """Rank the memories matching ``query`` (None: nothing matches) for ``req``."""
        if query is None:
            return Ranking(0, [], None)
        if req.search_mode == "keyword":
            return await self._keyword(req, query, now)
        vector = await self.embed(req.text)
        if req.search_mode == "hybrid":
            return await self._hybrid(req, query, vector, now)
        return await self._semantic(req, query, vector, now)

    def _boost(self, req: SearchRequest, relevance: float, c: Candidate, now: float) -> float:
        if not req.recency_boost:
            return relevance
        recency = recency_component(req, c, now)
        return req.recency_semantic_weight * relevance + req.recency_recency_weight * recency

    @staticmethod
    def _page(
        req: SearchRequest, total: int, hits: list[Hit], vector: np.ndarray | None
    ) -> Ranking:
        hits.sort(key=lambda h: (-h.score, h.id))
        return Ranking(total, hits[req.offset : req.offset + req.limit], vector)

    async def _semantic(
        self, req: SearchRequest, query: str, vector: np.ndarray, now: float
    ) -> Ranking:
        threshold = req.distance_threshold
        if threshold is None:
            total = await self.store.count(query)
        else:
            total = await self.store.count_within(query, vector, threshold)
        need = req.offset + req.limit
        if total == 0 or req.offset >= total:
            return Ranking(total, [], vector)
        k = need + 1 if not req.recency_boost else max(100, 3 * need)
        ceiling = req.recency_recency_weight * (
            req.recency_freshness_weight + req.recency_novelty_weight
        )
        while True:
            found = await self.store.nearest(query, vector, k, max_distance=threshold)
            hits = [Hit(c.id, self._boost(req, 1.0 - c.value, c, now), c.value) for c in found]
            if len(found) < k or len(found) >= total:
                break  # every candidate is here
            if not req.recency_boost and found[need - 1].value < found[-1].value:
                break  # no tie across the end of the page: the page is exact
            ranked = sorted((h.score for h in hits), reverse=True)
            bound = req.recency_semantic_weight * (1.0 - found[-1].value) + ceiling
            if req.recency_boost and len(ranked) >= need and ranked[need - 1] > bound:
                break
            k *= 4
        return self._page(req, total, hits, vector)

    async def _keyword_candidates(
        self, req: SearchRequest, query: str, k: int, need: int
    ) -> tuple[int, list[Candidate]]:
        """(total, at least the best ``k``), grown past ties at the end of the page."""
        words = keywords(req.text)
        while True:
            if words:
                total, found = await self.store.keyword(query, words, k)

                def order(c: Candidate) -> float:
                    return -c.value
            else:
                total, found = await self.store.recent(query, k)

                def order(c: Candidate) -> float:
                    return -c.created_at

            if len(found) < k or len(found) >= total or order(found[need - 1]) < order(found[-1]):
                return total, found
            k *= 4

    async def _keyword(self, req: SearchRequest, query: str, now: float) -> Ranking:
        need = req.offset + req.limit
        k = need + 1 if not req.recency_boost else max(100, 3 * need)
        total, found = await self._keyword_candidates(req, query, k, need)
        norm = min_max({c.id: c.value for c in found})
        hits = []
        for c in found:
            relevance = norm[c.id]
            score = self._boost(req, relevance, c, now) if req.recency_boost else c.value
            hits.append(Hit(c.id, score, 1.0 - relevance))
        if not keywords(req.text) and not req.recency_boost:  # newest first
            dates = {c.id: c.created_at for c in found}
            hits.sort(key=lambda h: (-dates[h.id], h.id))
            return Ranking(total, hits[req.offset : need], None)
        return self._page(req, total, hits, None)

    async def _hybrid(
        self, req: SearchRequest, query: str, vector: np.ndarray, now: float
    ) -> Ranking:
        n = max(100, 3 * (req.offset + req.limit))
        threshold = req.distance_threshold
        semantic = await self.store.nearest(query, vector, n, max_distance=threshold)
        words = keywords(req.text)
        kw_total, lexical = (
            await self.store.keyword(query, words, n) if words else (0, list[Candidate]())
        )
        if threshold is None:
            total = await self.store.count(query)
        else:
            both = (
                await self.store.count_within(
                    self.store.keyword_query(query, words), vector, threshold
                )
                if words
                else 0
            )
            total = await self.store.count_within(query, vector, threshold) + kw_total - both
        sem = min_max({c.id: 1.0 - c.value for c in semantic})
        lex = min_max({c.id: c.value for c in lexical})
        alpha = req.hybrid_alpha
        dists = {c.id: c.value for c in semantic}
        everyone = {c.id: c for c in lexical} | {c.id: c for c in semantic}
        hits = []
        for memory_id, c in everyone.items():
            fused = alpha * sem.get(memory_id, 0.0) + (1.0 - alpha) * lex.get(memory_id, 0.0)
            hits.append(Hit(memory_id, self._boost(req, fused, c, now), dists.get(memory_id)))
        return self._page(req, total, hits, vector)
