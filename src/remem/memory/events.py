"""Sessions as the managed API sees them: a log of events, each a message of the session.

A store's session ``s`` is the working-memory session ``s`` of the store's namespace, whoever
its user is: it is found through the index (``WorkingMemoryService.get`` with the user left
out), and an event appended to it keeps the session's user. A session that does not exist yet
is made by its first event, with that event's owner as its user.
"""

from __future__ import annotations

from dataclasses import dataclass

from remem.errors import NotFound
from remem.memory.working import WorkingMemoryService
from remem.models.working import AppendMessages, MemoryMessage, WorkingMemoryResponse
from remem.store.events import SessionMessages
from remem.store.working import Session


@dataclass
class SessionEvents:
    working: WorkingMemoryService
    messages: SessionMessages

    async def session(
        self, session_id: str, namespace: str, user_id: str | None
    ) -> WorkingMemoryResponse:
        """The session ``session_id`` of ``namespace`` (of ``user_id`` when given); 404."""
        return await self.working.get(session_id, namespace=namespace, user_id=user_id)

    async def add(
        self,
        session_id: str,
        namespace: str,
        message: MemoryMessage,
        *,
        owner: str,
        user_id: str | None,
    ) -> WorkingMemoryResponse:
        """Append ``message`` to the session (of ``user_id`` when the caller is bound to one),
        made with ``owner`` as its user if it is new."""
        try:
            user = (await self.session(session_id, namespace, user_id)).user_id
        except NotFound:
            user = owner
        body = AppendMessages(messages=[message], namespace=namespace, user_id=user)
        return await self.working.append(session_id, body)

    async def remove(
        self, session_id: str, namespace: str, user_id: str | None, event_id: str
    ) -> None:
        """Remove one event (message) of the session; 404 when either is not there."""
        found = await self.session(session_id, namespace, user_id)
        where = Session(found.session_id, found.user_id, found.namespace)
        if not await self.messages.remove(where, event_id):
            raise NotFound(f"event {event_id!r} not found in session {session_id!r}")
