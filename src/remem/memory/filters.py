"""Search filters, turned into one Query Engine query through the builders of ``store.query``.

Meaning of each operator (``values`` are the field's values: one for a scalar field, the list for
topics and entities; a null or absent field has none):

=============================  ============================================================
``eq x``                       x is one of the values
``ne x`` / ``not_eq x``        x is not one of the values (documents without values match)
``any`` / ``in_`` [xs]         some x is one of the values (an empty list matches nothing)
``all`` [xs]                   every x is one of the values (true AND)
``none`` / ``not_in`` [xs]     no x is one of the values
``startswith p``               some value starts with p
dates ``gt gte lt lte eq``     one numeric range, all operators AND-ed
dates ``between [a, b]``       a <= date <= b
=============================  ============================================================

``startswith`` is resolved exactly: the field's distinct values (the index's tag values, which the
store keeps) are matched in Python and the filter names the ones that start with the prefix. The
Query Engine's own prefix match was measured to be wrong for us twice over: it finds nothing for
one-byte prefixes (MINPREFIX 2) and silently stops after 200 expanded values (MAXPREFIXEXPANSIONS).

A compiled filter is a ``store.query.Filter`` value, or ``None`` when it can match nothing; the
store alone turns it into query syntax.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from remem.memory.identifiers import check_id
from remem.models.search import DateFilter, SearchFilters, SearchRequest, TagFilter
from remem.store.query import (
    MATCH_ALL,
    Between,
    Filter,
    HasValue,
    NotPast,
    TagIn,
    every,
    is_prefix,
    resolve_patterns,
)

TagValues = Callable[[str], Awaitable[Sequence[str]]]
"""Gives the distinct values of a TAG field (to resolve ``startswith``)."""

TAG_FIELDS = (
    "session_id",
    "namespace",
    "user_id",
    "topics",
    "entities",
    "extraction_strategy",
    "memory_type",
    "role",
    "namespace_id",
    "namespace_label_tag",
    "attribute_tags",
)
DATE_FIELDS = ("created_at", "last_accessed", "event_date")


def epoch(value: datetime) -> float:
    """Epoch seconds rounded to microseconds, as stored (naive datetimes are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp(), 6)


def _text(field: str, value: object) -> str:
    """A filter value, held to the rules of stored values: one that breaks them (empty, control
    characters, edge whitespace, over 4,096 bytes) could never match, and some of them (``""``,
    control characters) are not even valid query syntax, so they are refused with the reason."""
    return check_id(f"{field} filter value", str(getattr(value, "value", value)))


def _texts(field: str, values: Iterable[object]) -> list[str]:
    return [_text(field, v) for v in values]


async def tag_clauses(field: str, f: TagFilter, tag_values: TagValues) -> list[Filter] | None:
    """The clauses of one tag filter; None when it can match nothing."""
    clauses: list[Filter] = []
    if f.eq is not None:
        clauses.append(TagIn(field, (_text(field, f.eq),)))
    for value in (f.ne, f.not_eq):
        if value is not None:
            clauses.append(~TagIn(field, (_text(field, value),)))
    for values in (f.any, f.in_):
        if values is not None:
            if not values:
                return None
            clauses.append(TagIn(field, tuple(_texts(field, values))))
    if f.all:
        clauses += [TagIn(field, (v,)) for v in dict.fromkeys(_texts(field, f.all))]
    for values in (f.none, f.not_in):
        if values:
            clauses.append(~TagIn(field, tuple(_texts(field, values))))
    if f.startswith is not None:
        prefix = f.startswith
        matching = sorted(v for v in await tag_values(field) if v and v.startswith(prefix))
        if not matching:
            return None
        clauses.append(TagIn(field, tuple(matching)))
    return clauses


def date_clause(field: str, f: DateFilter) -> Filter | None:
    """One numeric range for all the operators of a date filter; None if it is empty."""
    low, high = float("-inf"), float("inf")
    low_open = high_open = False

    def raise_low(value: float, exclusive: bool) -> None:
        nonlocal low, low_open
        if value > low or (value == low and exclusive):
            low, low_open = value, exclusive

    def lower_high(value: float, exclusive: bool) -> None:
        nonlocal high, high_open
        if value < high or (value == high and exclusive):
            high, high_open = value, exclusive

    if f.gt is not None:
        raise_low(epoch(f.gt), True)
    if f.gte is not None:
        raise_low(epoch(f.gte), False)
    if f.lt is not None:
        lower_high(epoch(f.lt), True)
    if f.lte is not None:
        lower_high(epoch(f.lte), False)
    if f.eq is not None:
        raise_low(epoch(f.eq), False)
        lower_high(epoch(f.eq), False)
    if f.between is not None:
        raise_low(epoch(f.between[0]), False)
        lower_high(epoch(f.between[1]), False)
    if low > high or (low == high and (low_open or high_open)):
        return None
    if low == float("-inf") and high == float("inf"):
        return MATCH_ALL
    return Between(
        field,
        None if low == float("-inf") else low,
        None if high == float("inf") else high,
        low_open=low_open,
        high_open=high_open,
    )


async def compile_filters(filters: SearchFilters, tag_values: TagValues) -> Filter | None:
    """The filter for ``filters`` (MATCH_ALL when there are none); None when nothing can
    match."""
    clauses: list[Filter] = []
    for field in TAG_FIELDS:
        tag_filter = getattr(filters, field)
        if tag_filter is None:
            continue
        found = await tag_clauses(field, tag_filter, tag_values)
        if found is None:
            return None
        clauses += found
    for field in DATE_FIELDS:
        date_filter = getattr(filters, field)
        if date_filter is None:
            continue
        clause = date_clause(field, date_filter)
        if clause is None:
            return None
        clauses.append(clause)
    return every(*clauses)


def validity(request: SearchRequest, now: float) -> Filter | None:
    """Which memories a search sees by their validity (facts that change): by default those
    still true now (``invalid_at`` absent or after now); with ``as_of``, those true then
    (``valid_at`` absent or not after it, ``invalid_at`` absent or after it; memories stored
    before validity existed have no ``valid_at`` and count as true from the start); with
    ``include_superseded``, all (None: no condition)."""
    if request.include_superseded:
        return None
    if request.as_of is None:
        return NotPast("invalid_at", now)
    at = epoch(request.as_of)
    # Not NotPast: its instant takes no part in a kept count's key, and as_of is not "now".
    return every(~Between("valid_at", at, None, low_open=True), ~Between("invalid_at", None, at))


def scope(namespace: str | None, user_id: str | None) -> Filter:
    """Exactly this namespace and user (absent means "has none"), for dedup and compaction."""
    return every(
        TagIn("namespace", (namespace,)) if namespace else ~HasValue("namespace"),
        TagIn("user_id", (user_id,)) if user_id else ~HasValue("user_id"),
    )


class Within(NamedTuple):
    """A caller's scope (``remem.auth.guard``) as the domain takes it: the namespaces it may
    read (exact names or prefixes ending in ``*``; None: any, namespace-less records too) and
    its user (None: any)."""

    namespaces: tuple[str, ...] | None
    user_id: str | None


async def within_filter(scope: Within, tag_values: TagValues) -> Filter | None:
    """``scope`` as a filter to AND into a search (MATCH_ALL: no restriction); None when no
    stored namespace lies in it. Prefixes are resolved against the stored namespaces, exactly
    (as ``startswith`` is, for the reasons above)."""
    clauses: list[Filter] = []
    if scope.namespaces is not None:
        prefixed = any(map(is_prefix, scope.namespaces))
        values = await tag_values("namespace") if prefixed else ()
        names = resolve_patterns(scope.namespaces, values)
        if not names:
            return None
        clauses.append(TagIn("namespace", names))
    if scope.user_id is not None:
        clauses.append(TagIn("user_id", (scope.user_id,)))
    return every(*clauses)


def hit_owners(
    request: SearchRequest, scope: Within | None
) -> Callable[[str | None, str | None], bool] | None:
    """The (namespace, user) a search's hits may have, as far as the caller's ``scope`` and
    the request's ``namespace`` and ``user_id`` ``eq`` say (None: any): on a Redis Cluster,
    where two namespaces may hold one id, a hit is read in the copy these accept."""
    names = scope.namespaces if scope is not None else None
    scoped_user = scope.user_id if scope is not None else None
    asked_ns = request.namespace.eq if request.namespace is not None else None
    asked_user = request.user_id.eq if request.user_id is not None else None
    if names is None and scoped_user is None and asked_ns is None and asked_user is None:
        return None

    def accepts(namespace: str | None, user: str | None) -> bool:
        if asked_ns is not None and namespace != asked_ns:
            return False
        if any(wanted is not None and user != wanted for wanted in (asked_user, scoped_user)):
            return False
        return names is None or (
            namespace is not None
            and any(namespace.startswith(n[:-1]) if is_prefix(n) else namespace == n for n in names)
        )

    return accepts
