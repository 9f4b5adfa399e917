"""``topics`` matched without regard to case in the managed API's search, as the managed API
says; the Agent Memory Server API's routes keep matching them as written.

remem's TAG fields are case-sensitive, so a value is matched through the cases it is stored
in: the index's distinct topics (``FT.TAGVALS``, kept by the long-term store until the next
write) are grouped by their case-folded form, and each value asked for becomes the values of
its group, still a query of the index, not a scan. A condition is then groups of values of
which one must be held (``eq``; ``in``: one group for all its values; ``all``: a group per
value) and values none of which may be (``ne``). remem's tag filter holds any number of
one-value groups and two of several values: ``all`` naming three values each stored in
several cases is refused (a 400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from remem.errors import InvalidInput
from remem.models.managed import TagOps
from remem.models.search import TagFilter

TagValues = Callable[[], Awaitable[tuple[str, ...]]]


async def any_case(field: str, ops: TagOps, stored: TagValues) -> TagFilter:
    """``ops`` on ``field`` as a tag filter matching its values in any case."""
    folded: dict[str, list[str]] = {}
    for value in await stored():
        folded.setdefault(value.casefold(), []).append(value)

    def cases(value: str) -> list[str]:
        return folded.get(value.casefold()) or [value]  # stored in no case: matches nothing

    groups: list[list[str]] = []
    if ops.eq is not None:
        groups.append(cases(ops.eq))
    if ops.in_ is not None:
        groups.append([c for v in ops.in_ for c in cases(v)])  # [] matches nothing
    groups += [cases(v) for v in ops.all or ()]
    single = [g[0] for g in groups if len(g) == 1]
    several = [g for g in groups if len(g) != 1]
    if len(several) > 2:
        raise InvalidInput(
            f"filter.{field}: at most two of its values may each be stored in several cases"
        )
    return TagFilter(
        all=single or None,
        any=several[0] if several else None,
        in_=several[1] if len(several) > 1 else None,
        none=cases(ops.ne) if ops.ne is not None else None,
    )
