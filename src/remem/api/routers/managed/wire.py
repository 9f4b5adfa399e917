"""What the managed routes share: the store path parameter, answers in camelCase without
unset fields, and the conversion of session messages to events."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Path
from fastapi.responses import Response
from pydantic import BaseModel

from remem.models.working import MemoryMessage

STORE = Path(alias="storeId", description="The store: remem's namespace of this name.")


def answer(model: BaseModel, status_code: int = 200) -> Response:
    body = model.model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, status_code=status_code, media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


# A ULID: 26 characters of Crockford's base 32 (any case), the first ten its milliseconds.
ULID_TEXT = re.compile(r"[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
AS_BASE32 = str.maketrans(  # Crockford's digits as int(..., 32) reads them
    CROCKFORD + CROCKFORD.lower(), "0123456789abcdefghijklmnopqrstuv" * 2
)


# The times read from ULIDs lately: a session is read again on every turn of its agent, and
# an event's id never changes. Emptied when full.
_ULID_TIMES: dict[str, datetime] = {}
_ULID_TIMES_KEPT = 65536


def ingested(message: MemoryMessage) -> datetime:
    """When the server took the message in: the time its ULID id holds (remem makes every
    event's id), else, for an id a client chose, when the message says it happened. Read
    from the ULID's first ten characters here (parsing it whole took ~8 µs an event, a tenth of
    a session's read), and kept (``_ULID_TIMES``: reading it took ~1 µs an event, a third of
    what the events cost more than the messages of the other API)."""
    known = _ULID_TIMES.get(message.id)
    if known is not None:
        return known
    if not ULID_TEXT.fullmatch(message.id):
        return message.created_at
    ms = int(message.id[:10].translate(AS_BASE32), 32)
    if len(_ULID_TIMES) >= _ULID_TIMES_KEPT:
        _ULID_TIMES.clear()
    found = _ULID_TIMES[message.id] = datetime.fromtimestamp(ms / 1000, UTC)
    return found


def event_json(message: MemoryMessage, session_id: str, owner: str | None) -> dict[str, Any]:
    """A working-memory message as a session event's JSON object: the role upper-cased, the
    content one text part, the actor the message's own or else the session's user (else its
    role); ``metadata`` left out when unset. Built without a model (a model per event was a
    fifth of a session's read; and a stored text is answered as stored, not checked against
    the bounds of the text sent): ``SessionEvent`` is its shape, a test holds the two equal."""
    out: dict[str, Any] = {
        "eventId": message.id,
        "actorId": message.actor_id or owner or message.role,
        "sessionId": session_id,
        "role": message.role.upper(),
        "content": [{"text": message.content}],  # as stored
        "createdAt": message.created_at,
        "systemTimestamp": ingested(message),
    }
    if message.metadata is not None:
        out["metadata"] = message.metadata
    return out
