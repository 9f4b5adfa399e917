"""The bounds of what remem accepts, as pydantic types, so they are checked at the edge (422)
and shown in the OpenAPI schema.

Each bound is what the store and the index hold exactly:

- **Counts** (``access_count``, ``tokens``, offsets): at most 2**53 - 1, the largest integer a
  double holds exactly. The index keeps numbers as doubles, and RedisJSON stores an integer
  beyond 64 bits as a double, which a later read no longer takes as an integer.
- **TTL**: at most 100 years. Redis's EXPIRE works in milliseconds on 64 bits and refuses
  ``9223372036854775807`` seconds ("invalid expire time").
- **Dates**: from 0001-01-01 to 9999-12-31 in UTC (Python's range: an offset that moves
  ``0001-01-01T00:00:00+05:00`` into year 0 could be stored but never read). They are stored
  as epoch seconds in a double, which keeps microseconds only within about 272 years of 1970:
  measured through RedisJSON, every microsecond value from 1700 to 2240 read back exactly, and
  about half of those in 1690 or 2250 did not, while whole seconds read back exactly from year 1
  to 9999. So outside 1700-2199 a date must be a whole second.
- **Floats**: finite. ``NaN``, ``Infinity`` and ``1e400`` (which JSON parsers read as infinity)
  are refused; JSON has no way to write them back.
- **Free JSON** (``data``, ``metadata``, strategy ``config``): no non-finite floats (stored as
  null, silently) and no integers outside 64 bits (stored as doubles, so ``10**29`` came back as
  ``1e+29``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

MAX_COUNT = 2**53 - 1
MAX_TTL_SECONDS = 100 * 365 * 86_400  # 3,153,600,000
MAX_SEARCH_OFFSET = 100_000
"""Deepest long-term search page. A search reads the best ``3 x (offset + limit)`` candidates
of each ranking, and the Query Engine refuses more than 1,000,000 results (``LIMIT exceeds
maximum``) from an offset of about 333,300 on; 100,000 keeps well inside that."""

_FIRST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
_AFTER_LAST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC).timestamp()
_EXACT_FROM = datetime(1700, 1, 1, tzinfo=UTC).timestamp()
_EXACT_UNTIL = datetime(2200, 1, 1, tzinfo=UTC).timestamp()
DATE_RULE = (
    "A date from 0001-01-01 to 9999-12-31 (UTC); outside 1700-2199 a whole second, as the "
    "store keeps microseconds exactly only within those years. Naive datetimes are UTC."
)
_MIN_INT64, _MAX_INT64 = -(2**63), 2**63 - 1


def _stored_date(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    seconds = aware.timestamp()
    if not _FIRST <= seconds < _AFTER_LAST:
        raise ValueError("date must be from 0001-01-01 to 9999-12-31 in UTC")
    if value.microsecond and not _EXACT_FROM <= seconds < _EXACT_UNTIL:
        raise ValueError(
            "a date outside the years 1700-2199 must be a whole second (the store keeps "
            "microseconds exactly only within them)"
        )
    return value


def _storable_json(value: Any, where: str = "") -> Any:
    """Refuse what RedisJSON would not give back as sent: non-finite floats, huge integers."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{at or 'value'}: non-finite numbers cannot be stored")
        if isinstance(item, int) and not isinstance(item, bool):
            if not _MIN_INT64 <= item <= _MAX_INT64:
                raise ValueError(f"{at or 'value'}: integers must fit in 64 bits")
        elif isinstance(item, dict):
            stack += [(v, f"{at}.{k}" if at else str(k)) for k, v in item.items()]
        elif isinstance(item, list):
            stack += [(v, f"{at}[{i}]") for i, v in enumerate(item)]
    return value


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
TtlSeconds = Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS)]
StoredDatetime = Annotated[datetime, AfterValidator(_stored_date), Field(description=DATE_RULE)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
JsonValue = Annotated[Any, AfterValidator(_storable_json)]
