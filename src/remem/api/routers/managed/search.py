"""A store's search, as remem's: the managed API's filter as ``SearchFilters``, within the
store's namespace.

- ``similarityThreshold`` is a cosine similarity: memories with ``1 - distance`` below it are
  left out (a semantic search with ``distance_threshold = 1 - similarityThreshold``; without a
  threshold the search is remem's hybrid).
- Operators: ``eq``, ``ne``, ``in`` (remem's ``any``), ``all``; dates ``gt gte lt lte eq``.
  ``memoryType`` and ``topics`` values match without regard to case (``cases``).
- ``filterOp: "all"`` ANDs the conditions (one per field) in one search; ``"any"`` ORs them:
  one search per condition, each of the first ``offset + limit`` hits, merged by score (the
  best score a memory got), so a memory matching any condition is found.
- ``pageToken`` holds the offset of the next page.
- ``namespaceRef`` (``eq``, ``in``): the memories placed in those namespace resources.
- ``namespace`` (the deprecated label; ``eq``, ``ne``, ``in``, ``all``): matched without regard
  to case on the index's ``namespace_label_tag`` (``store.longterm.layout.label_tag``); ``ne``
  also finds the memories without a label, the others never do.
- ``unnamespaced: true``: the memories placed in no namespace resource of the store and
  without a label; ``false``: the others, placed in one or labelled (two searches, one for each,
  merged as ``filterOp: "any"`` merges). ANDed with every other condition whatever ``filterOp``
  says; it does not combine with ``namespaceRef`` or ``namespace`` (a 400).
- ``attributes``: field name -> exactly one of ``{string}``, ``{number}``, ``{boolean}``
  (equal to it) or ``{list}`` (a list attribute holding all of these), matched through the
  index's ``attribute_tags`` (``store.longterm.attributes``); each attribute is a condition
  (``filterOp: "any"`` ORs them with the others).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from pydantic import ValidationError

from remem.api.routers.managed import records
from remem.api.routers.managed.cases import any_case
from remem.api.routers.managed.paging import next_token, offset_of
from remem.auth import guard
from remem.errors import InvalidInput
from remem.memory.longterm import LongTermMemoryService
from remem.models.managed import DateOps, MemoryFilter, RefOps, Search, TagOps
from remem.models.search import (
    DateFilter,
    MemoryRecordResult,
    MemoryTypeFilter,
    SearchRequest,
    TagFilter,
)
from remem.store.longterm import attributes
from remem.store.longterm.layout import LABEL_TAG as LABELS
from remem.store.longterm.layout import label_tag

TagValues = Callable[[str], Awaitable[tuple[str, ...]]]  # a tag field's stored values
ANY_DEEPEST = 1000  # filterOp any: each search reads offset + limit hits (remem's limit)
# managed filter field -> remem's
FIELDS = {
    "session_id": "session_id",
    "owner_id": "user_id",
    "topics": "topics",
    "memory_type": "memory_type",
    "created_at": "created_at",
}


def _tag(ops: TagOps, *, types: bool = False) -> TagFilter:
    def one(value: str | None) -> Any:
        return None if value is None or not types else records.memory_type(value)

    def many(values: list[str] | None) -> Any:
        return None if values is None or not types else [records.memory_type(v) for v in values]

    if types:
        return MemoryTypeFilter(
            eq=one(ops.eq), ne=one(ops.ne), any=many(ops.in_), all=many(ops.all)
        )
    return TagFilter(eq=ops.eq, ne=ops.ne, any=ops.in_, all=ops.all)


async def conditions(found: MemoryFilter | None, tag_values: TagValues) -> dict[str, Any]:
    """remem's filter field -> its condition, one per managed field sent (``topics`` in any
    case: ``cases``, through ``tag_values``)."""
    if found is None:
        return {}
    out: dict[str, Any] = {}
    for name, field in FIELDS.items():
        ops = getattr(found, name)
        if isinstance(ops, DateOps):
            out[field] = DateFilter(**ops.model_dump(exclude_none=True))
        elif isinstance(ops, TagOps) and name == "topics":
            out[field] = await any_case("topics", ops, partial(tag_values, "topics"))
        elif isinstance(ops, TagOps):
            out[field] = _tag(ops, types=name == "memory_type")
    if isinstance(found.namespace_ref, RefOps):
        out["namespace_id"] = TagFilter(eq=found.namespace_ref.eq, any=found.namespace_ref.in_)
    if isinstance(found.namespace, TagOps):
        out[LABELS] = _labels(found.namespace)
    return out


def _labels(ops: TagOps) -> TagFilter:
    """A label condition, casefolded as the index holds labels."""

    def one(value: str | None) -> str | None:
        return None if value is None else label_tag(value)

    def many(values: list[str] | None) -> list[str] | None:
        return None if values is None else [label_tag(v) for v in values]

    return TagFilter(eq=one(ops.eq), ne=one(ops.ne), any=many(ops.in_), all=many(ops.all))


def attribute_conditions(found: MemoryFilter | None) -> list[TagFilter]:
    """One condition per attribute named: the tags its value must all be (``attributes``)."""
    if found is None or not found.attributes:
        return []
    out = []
    for name, ops in found.attributes.items():
        if ops.list_ is not None:
            items = [attributes.scalar(v) for v in ops.list_]
            tags = [attributes.tag(f"list:{i[0]}", name, i[1]) for i in items if i is not None]
        else:
            value = next(v for v in (ops.string, ops.number, ops.boolean) if v is not None)
            kind, tagged = attributes.scalar(value) or ("string", value)
            tags = [attributes.tag(kind, name, tagged)]
        out.append(TagFilter(all=tags))
    return out


async def always(
    found: MemoryFilter | None, placements: list[str], tag_values: TagValues
) -> list[dict[str, Any]]:
    """What every search of the request ANDs in, as alternatives (a memory matches one of
    them): ``unnamespaced`` over the store's namespace resources (``placements``: their ids)
    and the labels the index holds."""
    if found is None or found.unnamespaced is None:
        return [{}]
    if found.namespace_ref is not None or found.namespace is not None:
        raise InvalidInput("unnamespaced does not combine with namespaceRef or namespace")
    labels = list(await tag_values(LABELS))
    if not found.unnamespaced:  # placed, or labelled
        either = [{"namespace_id": TagFilter(any=placements)}]
        return either + ([{LABELS: TagFilter(any=labels)}] if labels else [])
    out = {"namespace_id": TagFilter(none=placements)}
    if labels:
        out[LABELS] = TagFilter(none=labels)
    return [out]


def request(
    body: Search, namespace: str, where: dict[str, Any], offset: int, limit: int
) -> SearchRequest:
    threshold = body.similarity_threshold
    try:
        return SearchRequest(
            text=body.text or "",
            namespace=TagFilter(eq=namespace),
            search_mode="semantic" if threshold is not None else "hybrid",
            distance_threshold=None if threshold is None else 1.0 - threshold,
            limit=limit,
            offset=offset,
            **where,
        )
    except ValidationError as exc:
        raise InvalidInput(f"search refused: {exc.errors()[0]['msg']}") from None


Found = tuple[list[MemoryRecordResult], str | None]  # a page of hits, the next page's token


async def search_store(
    service: LongTermMemoryService, namespace: str, body: Search, placements: list[str]
) -> Found:
    """The page ``body`` asks of the store's memories (``placements``: the ids of the store's
    namespace resources)."""
    offset = offset_of(body.page_token)
    where = await conditions(body.filter, service.store.cache.tag_values)
    by_attribute = attribute_conditions(body.filter)
    bases = await always(body.filter, placements, service.store.cache.tag_values)
    if body.filter_op == "all" or len(where) + len(by_attribute) < 2:
        if by_attribute:  # all of every attribute's tags
            where["attribute_tags"] = TagFilter(all=[t for c in by_attribute for t in c.all or ()])
        each = [where]
    else:
        each = [{f: c} for f, c in where.items()] + [{"attribute_tags": c} for c in by_attribute]
    if len(each) * len(bases) == 1:
        one = request(body, namespace, each[0] | bases[0], offset, body.limit)
        found = await service.search(one, guard.search(one))
        hits = found.memories
        return hits, next_token(offset, len(hits), body.limit, found.total)
    if offset + body.limit > ANY_DEEPEST:
        raise InvalidInput(
            f"filterOp any (or unnamespaced: false) pages no deeper than the first "
            f"{ANY_DEEPEST} memories"
        )
    asked = [request(body, namespace, c | b, 0, offset + body.limit) for c in each for b in bases]
    pages = await asyncio.gather(*(service.search(r, guard.search(r)) for r in asked))
    best: dict[str, MemoryRecordResult] = {}
    for page in pages:
        for hit in page.memories:
            kept = best.get(hit.id)
            if kept is None or _rank(hit) < _rank(kept):
                best[hit.id] = hit
    merged = sorted(best.values(), key=_rank)[offset : offset + body.limit]
    return merged, next_token(offset, len(merged), body.limit)


def _rank(hit: MemoryRecordResult) -> tuple[float, float, str]:
    return (-(hit.score if hit.score is not None else 1.0 - hit.dist), hit.dist, hit.id)
