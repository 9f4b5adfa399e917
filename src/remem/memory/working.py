"""Working memory: one document per session, with optional expiry.

Rules:
- A session is identified by (namespace, user_id, session_id); a PUT fully replaces the session.
- ``created_at`` is set by the first write and kept; ``updated_at`` moves on every write.
- ``ttl_seconds`` restarts the expiry clock on every write. A PUT without it makes the session
  persistent; an append keeps the session's own ``ttl_seconds`` unless it sends one.
- GET and DELETE that do not name both namespace and user find the session through the index;
  more than one match is a Conflict, never a silent choice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from remem.config import default
from remem.errors import Conflict, InvalidInput, NotFound
from remem.memory.identifiers import check_id, optional_id
from remem.memory.limits import Limits
from remem.memory.tokens import (
    context_window,
    keep_within,
    messages_tokens,
    summarization_due,
    usage_percentages,
)
from remem.memory.unreadable import Unreadable, reason
from remem.models.working import (
    AppendMessages,
    MemoryMessage,
    SessionListResponse,
    UpdateWorkingMemory,
    WorkingMemoryResponse,
)
from remem.store.listing import SortField
from remem.store.working import (
    LABELLED,
    NOTHING_DUE,
    PLACED,
    Due,
    Session,
    WorkingMemoryStore,
)


def _now() -> float:
    """Epoch seconds with microsecond precision: RedisJSON keeps 16 significant digits, so a
    value rounded here reads back exactly."""
    return round(time.time(), 6)


def session_document(
    body: UpdateWorkingMemory,
    *,
    session_id: str,
    namespace: str | None,
    user_id: str | None,
    created_at: float,
    updated_at: float | None = None,
    last_accessed: float | None = None,
) -> dict[str, Any]:
    """The stored form of a session: the wire fields plus its identity and epoch timestamps
    (the index sorts on these numbers), and ``expires_at``, when its TTL ends (None: never),
    counted from ``updated_at``."""
    doc = body.model_dump(mode="json")
    updated = created_at if updated_at is None else updated_at
    doc.update(
        session_id=session_id,
        namespace=namespace,
        user_id=user_id,
        created_at=created_at,
        updated_at=updated,
        last_accessed=updated if last_accessed is None else last_accessed,
        expires_at=expiry(updated, body.ttl_seconds),
    )
    return doc


def expiry(start: float, ttl_seconds: int | None) -> float | None:
    """When a TTL started at ``start`` ends, to the millisecond (PEXPIREAT's unit)."""
    return None if ttl_seconds is None else round(start + ttl_seconds, 3)


def expired(doc: dict[str, Any], now: float) -> bool:
    """True when the session is past its TTL (Redis may not have reclaimed the key yet)."""
    expires = doc.get("expires_at")
    return isinstance(expires, int | float) and expires <= now


def _check_messages(messages: list[MemoryMessage]) -> None:
    for message in messages:
        if not message.content or not message.content.strip():
            raise InvalidInput(f"Message content cannot be empty (message ID: {message.id})")


def _unextracted(messages: list[dict[str, Any]]) -> bool:
    return any(m.get("discrete_memory_extracted") != "t" for m in messages)


def _unpersisted(memories: list[dict[str, Any]]) -> bool:
    return any(m.get("persisted_at") is None for m in memories)


@dataclass
class WorkingMemoryService:
    store: WorkingMemoryStore
    summarization_threshold: float = default("summarization_threshold")
    # The trailing debounce of background work (extraction, summarisation): a write marks
    # its session due this many seconds later, in the write's own script (``store.due``);
    # workers take it from there (``tasks.poller``). None: nothing runs in the background.
    debounce_seconds: float | None = None
    # The longest later writes may hold back a batch's extraction or summarisation (a session
    # written more often than the debounce is still worked on this often). None: no limit.
    max_wait_seconds: float | None = None
    # Whether messages are extracted into long-term memory (REMEM_EXTRACT_MESSAGES).
    extract: bool = True
    limits: Limits = field(default_factory=Limits)

    # -- writes ------------------------------------------------------------------------------
    async def put(
        self,
        session_id: str,
        body: UpdateWorkingMemory,
        *,
        user_id: str | None = None,
        model_name: str | None = None,
        context_window_max: int | None = None,
    ) -> WorkingMemoryResponse:
        session_id = check_id("session_id", session_id)
        namespace = optional_id("namespace", body.namespace)
        user = optional_id("user_id", body.user_id if body.user_id is not None else user_id)
        self._check_size(body.messages)
        self.limits.memories(len(body.memories))
        self.limits.texts("memories[{i}].text", (m.text for m in body.memories))
        _check_messages(body.messages)
        doc = session_document(
            body, session_id=session_id, namespace=namespace, user_id=user, created_at=_now()
        )
        session = Session(session_id, user, namespace)
        work = NOTHING_DUE
        if self.debounce_seconds is not None:  # promotion runs now, extraction debounced
            work = Due(
                self.debounce_seconds if self._extracts(doc["messages"]) else None,
                0.0 if _unpersisted(doc["memories"]) else None,
                self.max_wait_seconds,
            )
        kept = await self.store.put(session, doc, work)
        if kept is not None:
            doc["created_at"] = kept
        return await self._written(session, doc, model_name, context_window_max)

    async def append(
        self,
        session_id: str,
        body: AppendMessages,
        *,
        model_name: str | None = None,
        context_window_max: int | None = None,
        namespace_id: str | None = None,
        namespace_label: str | None = None,
    ) -> WorkingMemoryResponse:
        """Add messages; a new session is made (placed in ``namespace_id``, the managed API's
        namespace resource, and labelled ``namespace_label``, when given: an existing session
        keeps its own)."""
        session_id = check_id("session_id", session_id)
        namespace = optional_id("namespace", body.namespace)
        user = optional_id("user_id", body.user_id)
        self._check_size(body.messages)
        _check_messages(body.messages)
        now = _now()
        messages = [m.model_dump(mode="json") for m in body.messages]
        ttl: int | Literal["keep"] | None = (
            body.ttl_seconds if "ttl_seconds" in body.model_fields_set else "keep"
        )
        new_doc = session_document(
            UpdateWorkingMemory(ttl_seconds=body.ttl_seconds),
            session_id=session_id,
            namespace=namespace,
            user_id=user,
            created_at=now,
        )
        new_doc["messages"] = messages
        if namespace_id is not None:
            new_doc[PLACED] = namespace_id
        if namespace_label is not None:
            new_doc[LABELLED] = optional_id("namespace_label", namespace_label)
        session = Session(session_id, user, namespace)
        work = NOTHING_DUE
        if self.debounce_seconds is not None and self._extracts(messages):
            work = Due(extract=self.debounce_seconds, max_wait=self.max_wait_seconds)
        doc = await self.store.append(session, new_doc, messages, now, ttl, work)
        return await self._written(session, doc, model_name, context_window_max)

    def _extracts(self, messages: list[dict[str, Any]]) -> bool:
        """Whether a write of ``messages`` makes extraction due."""
        return self.extract and _unextracted(messages)

    def _check_size(self, messages: list[MemoryMessage]) -> None:
        self.limits.messages(len(messages))
        self.limits.texts("messages[{i}].content", (m.content for m in messages))

    async def delete(self, session_id: str, *, namespace: str | None, user_id: str | None) -> None:
        """Delete the session; deleting a session that does not exist is not an error."""
        exact, partial = self._exact(session_id, namespace, user_id)
        if await self.store.delete(exact) or not partial:
            return
        found = await self._find_one(session_id, namespace, user_id)
        if found is not None:
            await self.store.delete(found)

    # -- reads -------------------------------------------------------------------------------
    async def get(
        self,
        session_id: str,
        *,
        namespace: str | None = None,
        user_id: str | None = None,
        recent_messages_limit: int | None = None,
        model_name: str | None = None,
        context_window_max: int | None = None,
    ) -> WorkingMemoryResponse:
        exact, partial = self._exact(session_id, namespace, user_id)
        doc = await self.store.get(exact)
        if doc is None and partial:
            found = await self._find_one(session_id, namespace, user_id)
            doc = await self.store.get(found) if found else None
        if doc is None or expired(doc, time.time()):
            raise NotFound(f"Session {session_id} not found")
        if recent_messages_limit is not None:
            if recent_messages_limit < 0:
                raise InvalidInput("recent_messages_limit must be >= 0")
            messages = doc.get("messages") or []
            doc["messages"] = messages[-recent_messages_limit:] if recent_messages_limit else []
        return self._response(doc, model_name, context_window_max, truncate=True)

    def response(self, doc: dict[str, Any]) -> WorkingMemoryResponse:
        """The answer of a stored document read otherwise (the managed API's sessions)."""
        return self._response(doc, None, None)

    async def list_sessions(
        self,
        *,
        namespace: str | None = None,
        namespaces: Sequence[str] | None = None,
        user_id: str | None,
        limit: int,
        offset: int,
        sort: SortField,
        descending: bool,
    ) -> SessionListResponse:
        """Sessions of ``namespace`` (exact) within ``namespaces`` (exact names or prefixes
        ending in ``*``: a caller's scope); None: no condition."""
        total, sessions = await self.store.list_sessions(
            namespace=optional_id("namespace", namespace),
            namespaces=namespaces,
            user_id=optional_id("user_id", user_id),
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
        )
        return SessionListResponse(sessions=sessions, total=total)

    # -- helpers -----------------------------------------------------------------------------
    def _exact(
        self, session_id: str, namespace: str | None, user_id: str | None
    ) -> tuple[Session, bool]:
        """The session these parts name exactly, and whether a part was left out."""
        exact = Session(
            check_id("session_id", session_id),
            optional_id("user_id", user_id),
            optional_id("namespace", namespace),
        )
        return exact, not (namespace and user_id)

    async def _find_one(
        self, session_id: str, namespace: str | None, user_id: str | None
    ) -> Session | None:
        """The one session matching the parts given (searched in the index), or None."""
        matches = await self.store.find(session_id, namespace or None, user_id or None)
        if len(matches) > 1:
            where = ", ".join(
                f"(namespace={found.namespace!r}, user_id={found.user_id!r})"
                for found in matches[:5]
            )
            raise Conflict(
                f"Session {session_id} exists {len(matches)} times: {where}; "
                "pass namespace and user_id to choose"
            )
        return matches[0] if matches else None

    async def _written(
        self,
        session: Session,
        doc: dict[str, Any],
        model_name: str | None,
        context_window_max: int | None,
    ) -> WorkingMemoryResponse:
        """The response to a write, scheduling summarisation when the messages passed the
        threshold of the window the write named (``background.summarization``)."""
        response = self._response(doc, model_name, context_window_max)
        window = context_window(model_name, context_window_max)
        if (
            window
            and self.debounce_seconds is not None
            and summarization_due(response.messages, window, self.summarization_threshold)
        ):
            await self.store.summarize_due(
                session, window, self.debounce_seconds, self.max_wait_seconds
            )
        return response

    def _response(
        self,
        doc: dict[str, Any],
        model_name: str | None,
        context_window_max: int | None,
        *,
        truncate: bool = False,
    ) -> WorkingMemoryResponse:
        try:
            response = WorkingMemoryResponse.model_validate(doc)
        except ValueError as exc:  # a document edited by hand, or an older layout
            raise Unreadable(
                f"Session {doc.get('session_id')} is stored in a form this server cannot read "
                f"({reason(exc)}); delete it or PUT it again"
            ) from None
        window = context_window(model_name, context_window_max)
        if window:
            if truncate:
                response.messages = keep_within(response.messages, window)
            used = messages_tokens(response.messages)
            total, until = usage_percentages(used, window, self.summarization_threshold)
            response.context_percentage_total_used = total
            response.context_percentage_until_summarization = until
        return response
