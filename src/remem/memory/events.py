"""Sessions as the managed API sees them: a log of events, each a message of the session.

A store's session ``s`` is the working-memory session ``s`` of the store's namespace, whoever
its user is: read by its key when the caller is bound to a user, else found with its document
in one search of the index (``SessionMessages.find``; on a Redis Cluster,
``WorkingMemoryService.get`` with the user left out), and an event appended to it keeps the
session's user. A session that does not exist yet
is made by its first event, with that event's owner as its user.

Once found, a session's user is remembered (``SessionOwners``, one per app), so the session's
next reads are one JSON.GET of its key, as the Agent Memory Server API's read is; a key that
no longer holds it (deleted, expired, made again for another user) is searched for again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from remem.errors import Conflict, NotFound
from remem.memory.identifiers import check_id
from remem.memory.working import WorkingMemoryService, expired
from remem.models.working import AppendMessages, MemoryMessage, WorkingMemoryResponse
from remem.store.events import SessionMessages
from remem.store.working import Session


class SessionOwners:
    """The user of each session found lately, by (namespace, session id): the newest
    ``size``."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._users: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    def get(self, namespace: str, session_id: str) -> tuple[bool, str | None]:
        """(known, user)."""
        where = (namespace, session_id)
        if where not in self._users:
            return False, None
        self._users.move_to_end(where)
        return True, self._users[where]

    def put(self, namespace: str, session_id: str, user_id: str | None) -> None:
        self._users[(namespace, session_id)] = user_id
        self._users.move_to_end((namespace, session_id))
        if len(self._users) > self.size:
            self._users.popitem(last=False)

    def forget(self, namespace: str, session_id: str) -> None:
        self._users.pop((namespace, session_id), None)


@dataclass
class SessionEvents:
    working: WorkingMemoryService
    messages: SessionMessages
    owners: SessionOwners = field(default_factory=SessionOwners)

    async def placed(self, namespace: str, namespace_id: str) -> bool:
        """Whether a session of ``namespace`` is placed in the namespace resource
        ``namespace_id``."""
        return await self.messages.placed(self.working.store.index, namespace, namespace_id)

    async def session(
        self, session_id: str, namespace: str, user_id: str | None
    ) -> WorkingMemoryResponse:
        """The session ``session_id`` of ``namespace`` (of ``user_id`` when given); 404, and
        409 when users of the namespace each have a session of that id."""
        if user_id is not None or self.messages.keys.cluster:
            return await self.working.get(session_id, namespace=namespace, user_id=user_id)
        session_id, namespace = check_id("session_id", session_id), check_id("namespace", namespace)
        known, user = self.owners.get(namespace, session_id)
        if known:
            doc = await self.working.store.get(Session(session_id, user, namespace))
            if doc is not None and not expired(doc, time.time()):
                return self.working.response(doc)
            self.owners.forget(namespace, session_id)
        found = await self.messages.find(self.working.store.index, session_id, namespace)
        if len(found) > 1:
            users = ", ".join(repr(where.user_id) for where, _ in found)
            raise Conflict(f"Session {session_id} exists for several users ({users})")
        if not found or expired(found[0][1], time.time()):
            raise NotFound(f"Session {session_id} not found")
        where, doc = found[0]
        self.owners.put(namespace, session_id, where.user_id)
        return self.working.response(doc)

    async def add(
        self,
        session_id: str,
        namespace: str,
        message: MemoryMessage,
        *,
        owner: str,
        user_id: str | None,
        namespace_id: str | None = None,
        namespace_label: str | None = None,
    ) -> WorkingMemoryResponse:
        """Append ``message`` to the session (of ``user_id`` when the caller is bound to one),
        made with ``owner`` as its user, placed in ``namespace_id`` and labelled
        ``namespace_label`` when given, if it is new (an existing session keeps its own, as
        the managed API keeps a first event's)."""
        try:
            user = (await self.session(session_id, namespace, user_id)).user_id
        except NotFound:
            user = owner
        body = AppendMessages(messages=[message], namespace=namespace, user_id=user)
        return await self.working.append(
            session_id, body, namespace_id=namespace_id, namespace_label=namespace_label
        )

    async def remove(
        self, session_id: str, namespace: str, user_id: str | None, event_id: str
    ) -> None:
        """Remove one event (message) of the session; 404 when either is not there."""
        found = await self.session(session_id, namespace, user_id)
        where = Session(found.session_id, found.user_id, found.namespace)
        if not await self.messages.remove(where, event_id):
            raise NotFound(f"event {event_id!r} not found in session {session_id!r}")
