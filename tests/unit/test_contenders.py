"""Pruning candidates before the boosts never changes the page (memory.search.contenders)."""

from __future__ import annotations

import heapq
from operator import itemgetter

from hypothesis import given, settings
from hypothesis import strategies as st

from remem.memory.search import contenders
from remem.models.search import SearchRequest

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def boosted(
    req: SearchRequest,
    relevance: dict[str, float],
    named: dict[str, bool],
    recency: dict[str, tuple[float, float]],
) -> dict[str, float]:
    scores = {}
    for i, r in relevance.items():
        boosted = r + req.entity_boost if named[i] else r
        if req.recency_boost:
            fresh, novel = recency[i]
            component = req.recency_freshness_weight * fresh + req.recency_novelty_weight * novel
            boosted = req.recency_semantic_weight * boosted + req.recency_recency_weight * component
        scores[i] = boosted
    return scores


def page(
    req: SearchRequest,
    relevance: dict[str, float],
    named: dict[str, bool],
    recency: dict[str, tuple[float, float]],
) -> list[str]:
    """The page as ranking computes it, from whichever candidates it is given."""
    scores = boosted(req, relevance, named, recency)
    order = sorted(scores, key=lambda i: (-scores[i], i))
    return order[req.offset : req.offset + req.limit]


@settings(max_examples=300, deadline=None)
@given(
    candidates=st.lists(st.tuples(unit, st.booleans(), unit, unit), min_size=1, max_size=60),
    limit=st.integers(1, 12),
    offset=st.integers(0, 10),
    recency_boost=st.booleans(),
    entity_boost=unit,
    weights=st.tuples(unit, unit, unit, unit),
)
def test_the_page_is_the_same_with_contenders_only(
    candidates: list[tuple[float, bool, float, float]],
    limit: int,
    offset: int,
    recency_boost: bool,
    entity_boost: float,
    weights: tuple[float, float, float, float],
) -> None:
    sw, rw, fw, nw = weights
    req = SearchRequest(
        text="q",
        limit=limit,
        offset=offset,
        recency_boost=recency_boost,
        entity_boost=entity_boost,
        recency_semantic_weight=sw,
        recency_recency_weight=rw,
        recency_freshness_weight=fw,
        recency_novelty_weight=nw,
    )
    relevance = {f"m{n}": c[0] for n, c in enumerate(candidates)}
    named = {f"m{n}": c[1] for n, c in enumerate(candidates)}
    recency = {f"m{n}": (c[2], c[3]) for n, c in enumerate(candidates)}
    whole = page(req, relevance, named, recency)
    kept = contenders(req, relevance, entities=True)
    assert set(kept) <= set(relevance)
    assert page(req, kept, named, recency) == whole
    # Once the best offset + limit are scored, their lowest score is the floor.
    best = dict(heapq.nlargest(offset + limit, relevance.items(), key=itemgetter(1)))
    floor = min(boosted(req, best, named, recency).values())
    refined = contenders(req, relevance, entities=True, floor=floor)
    assert set(best) <= set(refined) <= set(kept)
    assert page(req, refined, named, recency) == whole


def test_far_behind_candidates_are_dropped() -> None:
    req = SearchRequest(text="q", limit=2, recency_boost=True)
    relevance = {"a": 1.0, "b": 0.95, "c": 0.9, "d": 0.1, "e": 0.0}
    # The boosts add at most 0.8 * 0.3 + 0.2 * 1.0 = 0.44; the second best scores at least 0.76.
    assert set(contenders(req, relevance, entities=True)) == {"a", "b", "c"}
    assert contenders(req, {"a": 0.5}, entities=True) == {"a": 0.5}


def test_a_known_floor_drops_more() -> None:
    req = SearchRequest(text="q", limit=2, recency_boost=True)
    relevance = {"a": 1.0, "b": 0.95, "c": 0.9, "d": 0.5}
    # a and b boosted by fresh dates: 0.8 * 0.95 + 0.2 * 1.0 = 0.96, beyond c's reach (0.92).
    assert set(contenders(req, relevance, entities=False, floor=0.96)) == {"a", "b"}
