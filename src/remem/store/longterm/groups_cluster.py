"""Summary views' partitions (``MemoryIndex.groups``) on a Redis Cluster: each primary's
``FT.AGGREGATE ... GROUPBY`` of its own memories, merged.

A primary's index loads no field of a memory outside its own name's slot, but ``GROUPBY``
reads SORTABLE values, which the index keeps (docs/architecture.md, "What a primary's index
can give"): so on a cluster the fields a view may group by are SORTABLE
(``schema.GROUPABLE``). A group's memories may sit on several primaries (a user's in several
namespaces): its counts add up. Each primary gives its first ``limit`` groups in value order,
which hold every group of the merged first ``limit``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from remem.store.query import Filter

if TYPE_CHECKING:
    from remem.store.longterm.index_cluster import ClusterSearches


def parse_groups(reply: Any, fields: Sequence[str]) -> list[tuple[dict[str, str], int]]:
    """An ``FT.AGGREGATE ... GROUPBY`` reply (RESP2): each group's values and count."""
    out = []
    for row in reply[1:]:
        values = dict(zip(row[::2], row[1::2], strict=True))
        count = int(values.pop("__count", 0))
        out.append(({f: values.get(f) or "" for f in fields}, count))
    return out


async def merged_groups(
    searches: ClusterSearches, query: Filter, fields: Sequence[str], limit: int
) -> list[tuple[dict[str, str], int]]:
    """``MemoryIndex.groups`` over the primaries ``query`` needs, merged."""
    command = searches.index.groups_command(query, fields, limit)
    counts: Counter[tuple[str, ...]] = Counter()
    for reply in await searches.each(query, command):
        for group, count in parse_groups(reply, fields):
            counts[tuple(group[f] for f in fields)] += count
    first = sorted(counts)[:limit]
    return [(dict(zip(fields, values, strict=True)), counts[values]) for values in first]
