"""The managed API's session memory: ``/v1/stores/{storeId}/session-memory``.

A store's sessions are the working-memory sessions of its namespace; each event is one
message (``remem.memory.events``). A session's first event may place it in a namespace resource
(``namespaceRef``), kept as the session's ``namespace_id``: its extracted memories are placed
there. Its deprecated ``namespace`` label, also the first event's only, is kept as its
``namespace_label`` and given to its extracted memories (with ``namespaceRef``: a 400). Success
codes are the SDK's: 201 for a new event, 204 for
a delete.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic_core import to_json
from ulid import ULID

from remem.api.lean import LeanRoute
from remem.api.routers.managed import records
from remem.api.routers.managed.paging import next_token, offset_of
from remem.api.routers.managed.wire import STORE, event_json, no_content
from remem.auth import guard
from remem.errors import InvalidInput, NotFound
from remem.memory.events import SessionEvents, SessionOwners
from remem.models.bounds import MAX_COUNT
from remem.models.managed import (
    AddEvent,
    EventAnswer,
    SessionList,
    SessionMemory,
    SessionSummary,
)
from remem.models.working import MemoryMessage, WorkingMemoryResponse
from remem.runtime import Resources
from remem.store.events import SessionMessages
from remem.store.namespace_tree import NamespaceTree

# Every route skips FastAPI's general request handling (see api.lean), as the working-memory
# routes do: reading a session cost ~20% more app CPU than theirs without (managed_cost.py).
router = APIRouter(tags=["managed API: session memory"], route_class=LeanRoute)
SESSIONS = "/v1/stores/{storeId}/session-memory"


async def session_events(request: Request) -> SessionEvents:
    """The app's sessions as events, with the users of the sessions it has found: one per
    app, made by its first managed session request (and again if its resources change)."""
    res: Resources = request.app.state.resources
    made: SessionEvents | None = getattr(request.app.state, "managed_session_events", None)
    if made is None or made.working is not res.working:
        messages = SessionMessages(res.redis, res.keys)
        made = request.app.state.managed_session_events = SessionEvents(
            res.working, messages, SessionOwners()
        )
    return made


def _trees(events: SessionEvents) -> NamespaceTree:
    """The store's namespace resources, made only for a request that names or shows one."""
    return NamespaceTree(events.messages.redis, events.messages.keys)


Events = Depends(session_events)
SESSION = Path(alias="sessionId")
EVENT = Path(alias="eventId")


@router.get(SESSIONS, response_model=SessionList)
async def list_sessions(
    store_id: str = STORE,
    limit: int = Query(100, ge=1, le=1000),
    page_token: str | None = Query(None, alias="pageToken", max_length=200),
    filter_owner_id: str | None = Query(None, alias="filterOwnerId", min_length=1),
    include_all: bool = Query(False, alias="includeAll"),
    events: SessionEvents = Events,
) -> Response:
    """The store's session ids, newest first: those of one owner (``filterOwnerId``) or all
    of them (``includeAll=true``), one of the two."""
    if (filter_owner_id is None) == (not include_all):
        raise InvalidInput("name either filterOwnerId or includeAll=true (and not both)")
    namespace, _, _ = guard.store(store_id)
    _, _, user = guard.sessions(namespace, filter_owner_id)
    offset = offset_of(page_token, MAX_COUNT)
    listed = await events.working.list_sessions(
        namespace=namespace,
        user_id=user,
        limit=limit,
        offset=offset,
        sort="created_at",
        descending=True,
    )
    token = next_token(offset, len(listed.sessions), limit, listed.total)
    out: dict[str, Any] = {"items": listed.sessions, "total": listed.total}  # a SessionList
    if token is not None:
        out["nextPageToken"] = token
    return Response(to_json(out), media_type="application/json")


@router.post(f"{SESSIONS}/events", response_model=EventAnswer, status_code=201)
async def add_session_event(
    body: AddEvent, store_id: str = STORE, events: SessionEvents = Events
) -> Response:
    """Append one event, making the session (and its id, when none is sent) if it is new;
    a new session's owner is this event's actor (the caller's user, for a caller bound to
    one)."""
    if body.namespace is not None and body.namespace_ref is not None:
        raise InvalidInput(records.BOTH)
    namespace, user, _ = guard.store(store_id, write=True)
    placed = None
    if body.namespace_ref is not None:  # 404 missing, 409 archived
        tree = await _trees(events).all(namespace)
        placed = records.placement(tree, body.namespace_ref.namespace_id)
    session_id = body.session_id or str(ULID())
    message = MemoryMessage(
        role=body.role.lower(),
        content="\n".join(part.text for part in body.content),
        created_at=body.created_at,
        actor_id=body.actor_id,
        metadata=body.metadata,
    )
    owner = user if user is not None else body.actor_id
    label = {"namespace_id": placed, "namespace_label": body.namespace}
    doc = await events.add(session_id, namespace, message, owner=owner, user_id=user, **label)
    stored = next(m for m in reversed(doc.messages) if m.id == message.id)
    made = event_json(stored, doc.session_id, doc.user_id)
    return Response(to_json({"event": made}), status_code=201, media_type="application/json")


def session_memory(doc: WorkingMemoryResponse, tree: records.Tree | None = None) -> Response:
    """The session's answer, as ``SessionMemory`` serialises it (a test holds the two equal),
    its events built as JSON objects rather than models (``event_json``); its ``namespaceRef``
    from the store's namespace resources ``tree`` (read only for a session placed in one)."""
    out: dict[str, Any] = {
        "sessionId": doc.session_id,
        "ownerId": doc.user_id or "",
        "events": [event_json(m, doc.session_id, doc.user_id) for m in doc.messages],
    }
    if (ref := records.reference(tree or {}, doc.namespace_id)) is not None:
        out["namespaceRef"] = ref.model_dump(by_alias=True)
    elif doc.namespace_label is not None:  # the label, absent when namespaceRef is shown
        out["namespace"] = doc.namespace_label
    if doc.context:  # what summarisation folded the oldest messages into (and removed)
        summary = SessionSummary(
            text=doc.context,
            summarized_up_to_event_id="",
            created_at=doc.created_at,
            updated_at=doc.updated_at,
        )
        out["summary"] = summary.model_dump(by_alias=True, exclude_none=True)
    return Response(to_json(out), media_type="application/json")


@router.get(f"{SESSIONS}/{{sessionId}}", response_model=SessionMemory)
async def get_session_memory(
    session_id: str = SESSION,
    store_id: str = STORE,
    include_summarised_events: bool = Query(False, alias="includeSummarisedEvents"),
    events: SessionEvents = Events,
) -> Response:
    """The session's events and summary. Summarised events are folded into the summary and
    removed, so ``includeSummarisedEvents`` has none to add."""
    namespace, user, _ = guard.store(store_id)
    doc = await events.session(session_id, namespace, user)
    tree = await _trees(events).all(namespace) if doc.namespace_id else None
    return session_memory(doc, tree)


@router.delete(f"{SESSIONS}/{{sessionId}}", status_code=204, response_class=Response)
async def delete_session_memory(
    session_id: str = SESSION, store_id: str = STORE, events: SessionEvents = Events
) -> Response:
    """Delete the session and its events (404 when there is none). Memories already
    extracted from it stay."""
    namespace, user, _ = guard.store(store_id, write=True)
    found = await events.session(session_id, namespace, user)
    await events.working.delete(session_id, namespace=namespace, user_id=found.user_id)
    return no_content()


def _event_of(doc: WorkingMemoryResponse, event_id: str) -> Response:
    for message in doc.messages:
        if message.id == event_id:
            made = event_json(message, doc.session_id, doc.user_id)
            return Response(to_json({"event": made}), media_type="application/json")
    raise NotFound(f"event {event_id!r} not found in session {doc.session_id!r}")


@router.get(f"{SESSIONS}/{{sessionId}}/events/{{eventId}}", response_model=EventAnswer)
async def get_session_event(
    session_id: str = SESSION,
    event_id: str = EVENT,
    store_id: str = STORE,
    events: SessionEvents = Events,
) -> Response:
    namespace, user, _ = guard.store(store_id)
    return _event_of(await events.session(session_id, namespace, user), event_id)


@router.delete(
    f"{SESSIONS}/{{sessionId}}/events/{{eventId}}", status_code=204, response_class=Response
)
async def delete_session_event(
    session_id: str = SESSION,
    event_id: str = EVENT,
    store_id: str = STORE,
    events: SessionEvents = Events,
) -> Response:
    """Remove one event; memories already extracted from it stay."""
    namespace, user, _ = guard.store(store_id, write=True)
    await events.remove(session_id, namespace, user, event_id)
    return no_content()
