"""What the managed routes share: the store path parameter, answers in camelCase without
unset fields, and the conversion of session messages to events."""

from __future__ import annotations

from datetime import datetime

from fastapi import Path
from fastapi.responses import Response
from pydantic import BaseModel
from ulid import ULID

from remem.models.managed import SessionEvent, TextPart
from remem.models.working import MemoryMessage

STORE = Path(alias="storeId", description="The store: remem's namespace of this name.")


def answer(model: BaseModel, status_code: int = 200) -> Response:
    body = model.model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, status_code=status_code, media_type="application/json")


def no_content() -> Response:
    return Response(status_code=204)


def ingested(message: MemoryMessage) -> datetime:
    """When the server took the message in: the time its ULID id holds (remem makes every
    event's id), else, for an id a client chose, when the message says it happened."""
    try:
        return ULID.from_str(message.id).datetime
    except ValueError:
        return message.created_at


def event(message: MemoryMessage, session_id: str, owner: str | None) -> SessionEvent:
    """A working-memory message as a session event: the role upper-cased, the content one
    text part, the actor the message's own or else the session's user (else its role)."""
    return SessionEvent(
        event_id=message.id,
        actor_id=message.actor_id or owner or message.role,
        session_id=session_id,
        role=message.role.upper(),
        content=[TextPart.model_construct(text=message.content)],  # as stored
        created_at=message.created_at,
        system_timestamp=ingested(message),
        metadata=message.metadata,
    )
