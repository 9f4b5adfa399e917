"""The one place that turns user values into Redis Query Engine syntax.

Nothing else in remem writes query strings from user text: callers pass values to the builders
here. TAG values are escaped character by character (every ASCII character that is not a letter,
digit or underscore gets a backslash); numbers are formatted by us, never taken as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TAG_SPECIAL = re.compile(r"([^A-Za-z0-9_\u0080-\U0010ffff])")


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


def conjunction(clauses: Iterable[str]) -> str:
    """AND of clauses; the match-all query when there are none."""
    parts = [c for c in clauses if c and c != "*"]
    return " ".join(parts) if parts else "*"
