"""Every filter operator against a plain-Python reference, on random memories and filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remem.memory.filters import compile_filters, epoch
from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import DateFilter, SearchFilters, SearchRequest, TagFilter
from remem.store.longterm import LongTermStore
from remem.store.query import MATCH_ALL

# Few values, so filters hit; every one with query syntax or unicode in it.
POOL = ["a", "A", "ab", "a:b", "a*", "x y", "it's", "-", "*", "日本", "b|c", 'q"', "a\\b", "{}"]
MISSING = "not-stored"
BASE = 1_700_000_000.0
DATES = [BASE + k * 86_400 + 0.123456 for k in range(5)]
TAG_FIELDS = ("session_id", "namespace", "user_id", "topics", "entities", "extraction_strategy")

value = st.sampled_from(POOL)
maybe = st.one_of(st.none(), value)
record = st.fixed_dictionaries(
    {
        "session_id": maybe,
        "namespace": maybe,
        "user_id": maybe,
        "topics": st.one_of(st.none(), st.lists(value, max_size=3)),
        "entities": st.one_of(st.none(), st.lists(value, max_size=3)),
        "extraction_strategy": value,
        "memory_type": st.sampled_from(list(MemoryTypeEnum)),
        "created_at": st.sampled_from(DATES),
        "last_accessed": st.sampled_from(DATES),
        "event_date": st.one_of(st.none(), st.sampled_from(DATES)),
    }
)

query_value = st.one_of(value, value, value, st.just(MISSING))
values = st.lists(query_value, max_size=3)
# Prefixes of stored values, one character long included (the index's own prefix search
# finds nothing below two bytes).
prefix = st.one_of(
    st.just(""), value.flatmap(lambda v: st.integers(1, len(v)).map(lambda n: v[:n]))
)


def tag_filter(items: st.SearchStrategy[Any], listed: st.SearchStrategy[Any]) -> Any:
    ops = {
        "eq": items,
        "ne": items,
        "not_eq": items,
        "any": listed,
        "in_": listed,
        "all": listed,
        "none": listed,
        "not_in": listed,
        "startswith": prefix,
    }
    return st.dictionaries(st.sampled_from(list(ops)), st.none(), min_size=1, max_size=2).flatmap(
        lambda chosen: st.fixed_dictionaries({k: ops[k] for k in chosen})
    )


def when(v: float) -> st.SearchStrategy[Any]:
    """The same instant as an epoch number or an ISO string, or a bit off it."""
    iso = datetime.fromtimestamp(v, UTC).isoformat()
    return st.sampled_from([v, iso, v + 1, v - 1])


date_value = st.sampled_from(DATES).flatmap(when)
date_ops = {
    "gt": date_value,
    "gte": date_value,
    "lt": date_value,
    "lte": date_value,
    "eq": date_value,
    "between": st.tuples(date_value, date_value),
}


def some_of(ops: dict[str, st.SearchStrategy[Any]], most: int) -> st.SearchStrategy[Any]:
    """Dicts of 1..most of these keys, each with a value from its strategy."""
    chosen = st.dictionaries(st.sampled_from(list(ops)), st.none(), min_size=1, max_size=most)
    return chosen.flatmap(lambda keys: st.fixed_dictionaries({k: ops[k] for k in keys}))


date_filter = some_of(date_ops, 2)
type_value = st.sampled_from([t.value for t in MemoryTypeEnum])
FILTERS: dict[str, st.SearchStrategy[Any]] = {
    **{f: tag_filter(query_value, values) for f in TAG_FIELDS},
    "memory_type": tag_filter(type_value, st.lists(type_value, max_size=2)),
    "created_at": date_filter,
    "last_accessed": date_filter,
    "event_date": date_filter,
}
filters = some_of(FILTERS, 2)


# -- the reference -------------------------------------------------------------------------
def field_values(rec: dict[str, Any], field: str) -> list[str]:
    v = rec.get(field)
    if v is None:
        return []
    return list(v) if isinstance(v, list) else [str(v)]


def tag_ok(have: list[str], f: TagFilter) -> bool:
    def s(x: object) -> str:
        return str(getattr(x, "value", x))

    checks = [
        f.eq is None or s(f.eq) in have,
        f.ne is None or s(f.ne) not in have,
        f.not_eq is None or s(f.not_eq) not in have,
        f.any is None or any(s(x) in have for x in f.any),
        f.in_ is None or any(s(x) in have for x in f.in_),
        f.all is None or all(s(x) in have for x in f.all),
        f.none is None or not any(s(x) in have for x in f.none),
        f.not_in is None or not any(s(x) in have for x in f.not_in),
        f.startswith is None or any(v.startswith(f.startswith) for v in have),
    ]
    return all(checks)


def date_ok(v: float | None, f: DateFilter) -> bool:
    ops = [(f.gt, "gt"), (f.gte, "gte"), (f.lt, "lt"), (f.lte, "lte"), (f.eq, "eq")]
    given_ops = [(epoch(d), op) for d, op in ops if d is not None]
    if f.between is not None:
        given_ops += [(epoch(f.between[0]), "gte"), (epoch(f.between[1]), "lte")]
    if not given_ops:
        return True
    if v is None:
        return False
    compare = {
        "gt": lambda x: v > x,
        "gte": lambda x: v >= x,
        "lt": lambda x: v < x,
        "lte": lambda x: v <= x,
        "eq": lambda x: v == x,
    }
    return all(compare[op](x) for x, op in given_ops)


def reference(recs: dict[str, dict[str, Any]], flt: SearchFilters) -> set[str]:
    out = set()
    for memory_id, rec in recs.items():
        ok = all(
            tag_ok(field_values(rec, f), getattr(flt, f))
            for f in (*TAG_FIELDS, "memory_type")
            if getattr(flt, f) is not None
        ) and all(
            date_ok(rec[f], getattr(flt, f))
            for f in ("created_at", "last_accessed", "event_date")
            if getattr(flt, f) is not None
        )
        if ok:
            out.add(memory_id)
    return out


def to_record(i: int, rec: dict[str, Any]) -> MemoryRecord:
    data = dict(rec)
    for f in ("created_at", "last_accessed", "event_date"):
        if data[f] is not None:
            data[f] = datetime.fromtimestamp(data[f], UTC)
    return MemoryRecord(id=f"m{i}", text=f"memory number {i}", **data)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    recs=st.lists(record, min_size=4, max_size=16), raw=st.lists(filters, min_size=1, max_size=4)
)
async def test_filters_match_the_reference(
    store: LongTermStore,
    embedder: Any,
    recs: list[dict[str, Any]],
    raw: list[dict[str, Any]],
) -> None:
    # Hits update last_accessed; the reference is computed on the records as written, so the
    # service here never flushes its access buffer during the test.
    service = LongTermMemoryService(store, embedder, access_flush_seconds=3_600)
    old = [row.id for row in await store.index.oldest(MATCH_ALL, 1000)]
    await store.documents.delete_many(old)
    records = [to_record(i, r) for i, r in enumerate(recs)]
    vectors = np.ones((len(records), 64), dtype=np.float32) / 8.0
    docs = [to_doc(r, v) for r, v in zip(records, vectors, strict=True)]
    await store.documents.upsert_many(docs)
    stored = {d["id"]: d for d in docs}
    for body in raw:
        flt = SearchFilters.model_validate(body)
        want = reference(stored, flt)
        query = await compile_filters(flt, store.cache.tag_values)
        got = set() if query is None else {r.id for r in await store.index.oldest(query, 1000)}
        assert got == want, (body, query)
        request = SearchRequest.model_validate({**body, "text": "memory", "limit": 1000})
        result = await service.search(request)
        assert result.total == len(want), (body, query)
        assert {m.id for m in result.memories} == want, (body, query)
