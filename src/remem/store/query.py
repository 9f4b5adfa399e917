"""The one place that turns user values into Redis Query Engine syntax.

Nothing else in remem writes query strings from user text: callers pass values to the builders
here. TAG values and words are escaped character by character (every ASCII character that is not
a letter or digit gets a backslash); numbers are formatted by us, never taken as text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as attribute

# The underscore too: the query parser (RediSearch 2.10) refuses a bare ``_`` or ``{_}`` as a
# syntax error, and ``\_`` matches the same stored ``_`` (``a\_b`` finds ``a_b``).
_TAG_SPECIAL = re.compile(r"([^A-Za-z0-9\u0080-\U0010ffff])")


def escape_tag(value: str) -> str:
    """Escape a value for use inside ``@field:{...}``."""
    return _TAG_SPECIAL.sub(r"\\\1", value)


def tag_equals(field: str, value: str) -> str:
    return f"@{field}:{{{escape_tag(value)}}}"


def tag_any(field: str, values: Iterable[str]) -> str:
    return f"@{field}:{{{' | '.join(escape_tag(v) for v in values)}}}"


def _num(value: float | None, *, exclusive: bool = False) -> str:
    if value is None:
        return "+inf"
    text = repr(float(value))
    return f"({text}" if exclusive else text


def numeric_range(
    field: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_exclusive: bool = False,
    high_exclusive: bool = False,
) -> str:
    lo = "-inf" if low is None else _num(low, exclusive=low_exclusive)
    hi = "+inf" if high is None else _num(high, exclusive=high_exclusive)
    return f"@{field}:[{lo} {hi}]"


def numeric_not(field: str, low: float | None = None, high: float | None = None) -> str:
    """Documents whose ``field`` is outside [low, high] (a missing field included)."""
    return f"-{numeric_range(field, low, high)}"


def is_prefix(pattern: str) -> bool:
    """A scope pattern ending in ``*`` names every value that starts with the rest."""
    return pattern.endswith("*")


def tag_patterns(field: str, patterns: Sequence[str], values: Iterable[str] = ()) -> str | None:
    """Documents whose TAG ``field`` is one of ``patterns``: exact values, or prefixes ending in
    ``*`` resolved against ``values`` (the field's distinct values, ``FT.TAGVALS``); None when
    no value can match (the caller answers "nothing" without asking the engine).

    The engine's own prefix query (``@f:{pre*}``) is not used: measured on RediSearch 2.10 with
    its defaults, a one-character prefix finds nothing (MINPREFIX 2) and a prefix covering 300
    values finds 200 (MAXPREFIXEXPANSIONS), silently; a tenant's listing would lose sessions.
    Resolved here every value is matched exactly, escaped like any other tag value.
    """
    matching = resolve_patterns(patterns, values)
    return tag_any(field, matching) if matching else None


def resolve_patterns(patterns: Sequence[str], values: Iterable[str] = ()) -> tuple[str, ...]:
    """The exact ``patterns``, then the ``values`` a prefix pattern (``pre*``) covers."""
    exact = [p for p in patterns if not is_prefix(p)]
    prefixes = tuple(p[:-1] for p in patterns if is_prefix(p))
    if prefixes:
        exact += [v for v in values if v.startswith(prefixes)]
    return tuple(dict.fromkeys(exact))


def conjunction(clauses: Iterable[str]) -> str:
    """AND of clauses; the match-all query when there are none."""
    parts = [c for c in clauses if c and c != "*"]
    return " ".join(parts) if parts else "*"


# -- long-term memory ------------------------------------------------------------------------
# A TAG value that matches every non-empty value of a field (``w'*'``, a wildcard: measured on
# RediSearch 2.10 to match any stored value and no JSON null or missing field).
_ANY_VALUE = "w'*'"


def tag_present(field: str) -> str:
    """Documents that have a (non-empty) value in ``field``."""
    return f"@{field}:{{{_ANY_VALUE}}}"


def escape_text(word: str) -> str:
    """Escape one word for a TEXT clause (same character rule as tags)."""
    return _TAG_SPECIAL.sub(r"\\\1", word)


def text_any(field: str, words: Iterable[str]) -> str:
    """Documents whose TEXT ``field`` contains any of ``words``: ``@f:(w1|w2)``."""
    return f"@{field}:({'|'.join(escape_text(w) for w in words)})"


FAINT = 1e-4  # the weight of a faint word (``text_any_where``)


def text_any_where(
    field: str, words: Sequence[str], where: str, faint: Collection[str] = ()
) -> str:
    """Documents matching ``where`` whose TEXT ``field`` contains any of ``words``, each scored
    by the sum over the words it contains (BM25's sum over terms).

    Without a filter that is ``@f:(w1|w2)``. With one, ``where @f:(w1|w2)`` finds the right
    documents but RediSearch 2.10 scores some of them by one of their words only: when the
    filter makes the union skip to a document and the union has passed it, the union keeps one
    of the words it holds there (its heap variant, used past 20 words, keeps them all). A memory
    holding all four words of a query then scored as one holding one and fell out of the top
    ten (issue 9). So the filter goes with each word and the words are OR-ed:
    ``((where) @f:(w1)) | ((where) @f:(w2))``, a union that is only read, never asked to skip;
    on 500 random queries it scored every document as the unfiltered union does. Its cost, per
    FT.SEARCH at 10,000 memories with a namespace filter (p50): the same for rare words, +0.04
    ms for words in 4% of the memories, +0.45-1.0 ms for words in 20-45% of them (1.0-1.3 ms
    before).

    On 2.10 the filter's tag values score too, once for each word found: as if each word's IDF
    were raised by the tag's, which still ranks more words higher. Weighting the filter 0
    (``(word (filter)=>{$weight:0.0})``) makes a score the words' alone, but the nested group
    doubled the FT.SEARCH's time (and 2.10 ignores a weight on a lone tag), so it is not done.

    A word in ``faint`` has its whole clause weighted ``FAINT``: it still orders memories that
    hold no other query word, and never outweighs one that does (``memory.search``: words every
    filtered memory holds). 2.10 applies a weight to a group only (an AND or an OR), never to a
    lone word, so a faint word without a filter is ``(w|w)``.
    """
    if where == "*" and not faint:
        return text_any(field, words)
    faintly = f"=>{{$weight:{FAINT!r}}}"
    parts = []
    for w in words:
        word = f"@{field}:({escape_text(w)})"
        if where == "*":
            parts.append(f"({word}|{word}){faintly}" if w in faint else word)
        else:
            parts.append(f"(({where}) {word}){faintly if w in faint else ''}")
    return parts[0] if len(parts) == 1 else f"({' | '.join(parts)})"


def vector_range(field: str, radius_param: str = "radius", vector_param: str = "vec") -> str:
    """Documents within the distance ``$radius_param`` of ``$vector_param`` (DIALECT 2)."""
    return f"@{field}:[VECTOR_RANGE ${radius_param} ${vector_param}]"


def knn(
    query: str,
    field: str,
    *,
    k_param: str = "K",
    vector_param: str = "vec",
    alias: str = "dist",
    policy: str | None = None,
) -> str:
    """The ``$k_param`` nearest neighbours among the documents matching ``query``.

    ``policy`` (``ADHOC_BF`` or ``BATCHES``) tells the engine how to combine a filter with the
    vector search; it is only used when ``query`` filters (the engine refuses it otherwise).
    """
    hint = f" HYBRID_POLICY {policy}" if policy and query != "*" else ""
    return f"({query})=>[KNN ${k_param} @{field} ${vector_param}{hint} AS {alias}]"


# -- filters as values ---------------------------------------------------------------------
# The domain composes these from a request (RedisVL's filter expressions are the model); only
# ``render`` below writes query syntax. Frozen dataclasses: comparable and hashable, so a filter
# can key a cache.


class Filter:
    """A condition on indexed fields. ``a & b``: both; ``~a``: not ``a``."""

    def render(self) -> str:
        raise NotImplementedError

    def __and__(self, other: Filter) -> Filter:
        return every(self, other)

    def __invert__(self) -> Filter:
        return Not(self)


@dataclass(frozen=True)
class TagIn(Filter):
    """Some value of the TAG ``field`` is one of ``values`` (one value: equality)."""

    field: str
    values: tuple[str, ...]

    def render(self) -> str:
        return tag_any(self.field, self.values)


@dataclass(frozen=True)
class HasValue(Filter):
    """The TAG ``field`` has a (non-empty) value; ``~HasValue(f)``: it is null or absent."""

    field: str

    def render(self) -> str:
        return tag_present(self.field)


@dataclass(frozen=True)
class Between(Filter):
    """The NUMERIC ``field`` lies in the range; None is unbounded on that side."""

    field: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def render(self) -> str:
        return numeric_range(
            self.field,
            self.low,
            self.high,
            low_exclusive=self.low_open,
            high_exclusive=self.high_open,
        )


@dataclass(frozen=True)
class NotPast(Filter):
    """The NUMERIC ``field`` is absent or after ``at``: ``-@field:[-inf at]``.

    ``at`` (the present, for a search's "still true") takes no part in equality or hashing: a
    count kept for this filter (``GenerationCache``) serves the next instants too, as counts
    are kept by filter. It can then be off only by memories whose ``field`` fell between the
    two instants: set in the future, and passed since the count was kept (at most its 60 s).
    The page itself is always computed at ``at``."""

    field: str
    at: float = attribute(default=0.0, compare=False)

    def render(self) -> str:
        return numeric_not(self.field, None, self.at)


@dataclass(frozen=True)
class Not(Filter):
    """Documents that do not match ``inner`` (missing fields included)."""

    inner: Filter

    def render(self) -> str:
        text = self.inner.render()
        if text == "*":
            raise ValueError("a filter matching nothing is None, not ~MATCH_ALL")
        return f"-({text})" if isinstance(self.inner, AllOf) else f"-{text}"


@dataclass(frozen=True)
class AllOf(Filter):
    """Every part matches; no parts: every document (``MATCH_ALL``)."""

    parts: tuple[Filter, ...] = ()

    def render(self) -> str:
        return conjunction(part.render() for part in self.parts)


MATCH_ALL = AllOf()


def every(*parts: Filter | None) -> Filter:
    """The AND of ``parts`` (None and MATCH_ALL left out, nested ANDs flattened, repeats
    dropped: a caller's scope ANDed into a search that already names its namespace adds no
    clause)."""
    flat: list[Filter] = []
    for part in parts:
        if isinstance(part, AllOf):
            flat += part.parts
        elif part is not None:
            flat.append(part)
    flat = list(dict.fromkeys(flat))
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


@dataclass(frozen=True)
class TextAny(Filter):
    """Documents matching ``where`` whose TEXT ``field`` holds any of ``words``, each scored by
    the words it holds (``text_any_where``)."""

    field: str
    words: tuple[str, ...]
    where: Filter = AllOf()
    faint: frozenset[str] = frozenset()  # words weighted FAINT

    def render(self) -> str:
        return text_any_where(self.field, self.words, self.where.render(), self.faint)


def tag_is(field: str, value: str | None) -> Filter | None:
    """``field`` equals ``value``; None (no condition) when ``value`` is None."""
    return None if value is None else TagIn(field, (value,))
