"""``pageToken``: an opaque token that holds the offset of the next page."""

from __future__ import annotations

import base64
import binascii

from remem.errors import InvalidInput
from remem.models.bounds import MAX_SEARCH_OFFSET

_MARK = "p1:"


def next_token(offset: int, returned: int, limit: int, total: int | None = None) -> str | None:
    """The token of the page after ``offset``, or None when this page was the last."""
    following = offset + returned
    if returned < limit or (total is not None and following >= total):
        return None
    return base64.urlsafe_b64encode(f"{_MARK}{following}".encode()).decode()


def offset_of(token: str | None, deepest: int = MAX_SEARCH_OFFSET) -> int:
    """The offset ``token`` holds (0 for none); a 400 for a token this server did not make."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    number = text.removeprefix(_MARK) if text.startswith(_MARK) else ""
    if not number.isdigit() or int(number) > deepest:
        raise InvalidInput("pageToken is not a token this server gave")
    return int(number)
