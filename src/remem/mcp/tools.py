"""The ten MCP tools of the upstream Agent Memory Server 0.15.2, as methods of ``Tools``: their
names, parameters and descriptions are what agents see (``mcp.server`` registers each). Each
holds its request to the caller's scope through ``remem.auth.guard`` and calls the services the
REST API calls."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from remem.auth import guard
from remem.auth.context import caller
from remem.memory.identifiers import optional_id
from remem.memory.prompt import PromptBuilder
from remem.models.memory import MemoryTypeEnum
from remem.models.prompt import MemoryPromptRequest
from remem.models.search import (
    CreateMemoryRecordRequest,
    DateFilter,
    EditMemoryRecordRequest,
    MemoryTypeFilter,
    SearchRequest,
    TagFilter,
)
from remem.models.working import MemoryMessage, UpdateWorkingMemory
from remem.runtime import Resources

# The namespace named by the URL (/{namespace}/mcp) of the request being served.
url_namespace: ContextVar[str | None] = ContextVar("remem_mcp_namespace", default=None)

Mode = Literal["semantic", "keyword", "hybrid"]
# The tools, in the order a client lists them.
TOOLS = (
    "get_current_datetime",
    "create_long_term_memories",
    "search_long_term_memory",
    "memory_prompt",
    "set_working_memory",
    "get_working_memory",
    "get_long_term_memory",
    "edit_long_term_memory",
    "delete_long_term_memories",
    "compact_long_term_memories",
)


# search_long_term_memory's parameters that are not passed to the request as given.
_SEARCH_OWN = frozenset(
    {"self", "text", "search_mode", "limit", "offset", "optimize_query", "namespace"}
)


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _given(**values: Any) -> dict[str, Any]:
    """The arguments a caller gave (None: not given), filter models as their JSON."""
    return {
        k: v.model_dump(exclude_none=True) if isinstance(v, BaseModel) else v
        for k, v in values.items()
        if v is not None
    }


@dataclass
class Tools:
    """The tools over the services ``resources()`` returns (asked per call, so the HTTP app can
    build the server before its lifespan has made them). The URL's namespace, else
    ``default_namespace`` where the caller's scope allows it, fills in a namespace a call leaves
    out; ``default_user_id`` likewise for the user."""

    resources: Callable[[], Resources]
    default_namespace: str | None = None
    default_user_id: str | None = None

    def fallback_namespace(self) -> str | None:
        """The URL's namespace, else the configured default if the caller may use it."""
        named = url_namespace.get()
        if named is not None:
            return named
        if self.default_namespace is not None and caller().allows_namespace(self.default_namespace):
            return self.default_namespace
        return None

    def default_user(self) -> str | None:
        if self.default_user_id is not None and caller().allows_user(self.default_user_id):
            return self.default_user_id
        return None

    def namespace_or_default(self, namespace: str | None) -> str | None:
        return namespace or self.fallback_namespace()

    def scope_filter(self, namespace: TagFilter | None) -> TagFilter | None:
        if namespace is not None:
            return namespace
        fallback = self.fallback_namespace()
        return TagFilter(eq=fallback) if fallback else None

    async def get_current_datetime(self) -> dict[str, str | int]:
        """The current date and time in UTC, for grounding relative time ("today", "last
        week") before writing a memory: put the date in the memory's text and in `event_date`
        of episodic memories. Returns `iso_utc` (ISO 8601 with Z) and `unix_ts` (seconds)."""
        now = datetime.now(UTC).replace(microsecond=0)
        return {"iso_utc": now.isoformat().replace("+00:00", "Z"), "unix_ts": int(now.timestamp())}

    async def create_long_term_memories(self, memories: list[dict[str, Any]]) -> dict[str, Any]:
        """Store durable memories to find later with `search_long_term_memory`: facts and
        preferences (`memory_type` "semantic") and events (`"episodic"`, with `event_date` in ISO
        8601). Each memory: `text` (required: one self-contained statement, names not pronouns),
        optional `id`, `topics`, `entities`, `memory_type`, `event_date`, `namespace`,
        `user_id`, `session_id`, `pinned`. A memory with the same text as a stored one in the
        same namespace and user is not stored twice. Returns {"status": "ok"}."""
        for memory in memories:
            if isinstance(memory, dict):
                memory.setdefault("namespace", self.namespace_or_default(None))
                memory.setdefault("user_id", self.default_user())
        body = CreateMemoryRecordRequest.model_validate({"memories": memories})
        guard.new_records(body.memories)
        await self.resources().long_term.create(body.memories, deduplicate=body.deduplicate)
        return {"status": "ok"}

    async def search_long_term_memory(
        self,
        text: str | None = None,
        search_mode: Mode = "hybrid",
        session_id: TagFilter | None = None,
        namespace: TagFilter | None = None,
        topics: TagFilter | None = None,
        entities: TagFilter | None = None,
        created_at: DateFilter | None = None,
        last_accessed: DateFilter | None = None,
        user_id: TagFilter | None = None,
        memory_type: MemoryTypeFilter | None = None,
        event_date: DateFilter | None = None,
        role: TagFilter | None = None,
        distance_threshold: float | None = None,
        limit: int = 10,
        offset: int = 0,
        optimize_query: bool = False,
        recency_boost: bool | None = None,
        recency_semantic_weight: float | None = None,
        recency_recency_weight: float | None = None,
        recency_freshness_weight: float | None = None,
        recency_novelty_weight: float | None = None,
        recency_half_life_last_access_days: float | None = None,
        recency_half_life_created_days: float | None = None,
        server_side_recency: bool | None = None,
    ) -> dict[str, Any]:
        """Find stored memories relevant to `text` (what the user asked, in their words).
        `search_mode`: "hybrid" (the default: meaning and words together, which finds the
        most), "semantic" (meaning only) or "keyword" (exact words, names, ids). `role`
        filters by who said the message a memory was extracted from ({"eq": "user"}).
        Filters are objects: tag filters {"eq": v} / {"any": [..]} / {"ne": v}, date
        filters {"gt": iso} / {"between": [iso, iso]}. Returns {"memories": [{id, text, dist,
        score, topics, entities, ...}], "total", "next_offset"}: the best first."""
        # Every parameter but these is a field of the request, passed when given.
        given = {k: v for k, v in locals().items() if k not in _SEARCH_OWN}
        request = SearchRequest.model_validate(
            {"text": text or "", "search_mode": search_mode, "limit": limit, "offset": offset}
            | _given(**given, namespace=self.scope_filter(namespace))
        )
        within = guard.search(request)
        found = await self.resources().long_term.search(
            request, within, optimize_query=optimize_query
        )
        return _json(found)

    async def memory_prompt(
        self,
        query: str,
        session_id: TagFilter | None = None,
        namespace: TagFilter | None = None,
        model_name: str | None = None,
        context_window_max: int | None = None,
        topics: TagFilter | None = None,
        entities: TagFilter | None = None,
        created_at: DateFilter | None = None,
        last_accessed: DateFilter | None = None,
        user_id: TagFilter | None = None,
        memory_type: MemoryTypeFilter | None = None,
        event_date: DateFilter | None = None,
        distance_threshold: float | None = None,
        search_mode: Mode = "hybrid",
        limit: int = 10,
        offset: int = 0,
        optimize_query: bool = False,
        include_long_term_search: bool = True,
    ) -> dict[str, Any]:
        """The messages to answer `query` with: the session's summary and recent messages
        (when `session_id` {"eq": id} names a session) and the stored memories relevant to the
        query (unless `include_long_term_search` is false), then the query. Use it to build
        the context for a reply in one call. Returns {"messages": [...],
        "long_term_memories": [...]}."""
        namespace = self.scope_filter(namespace)
        session = None
        if session_id is not None and session_id.eq:
            session = {
                "session_id": session_id.eq,
                "namespace": namespace.eq if namespace else None,
                "user_id": user_id.eq if user_id else None,
                "model_name": model_name,
                "context_window_max": context_window_max,
            }
        search: dict[str, Any] | None = None
        if include_long_term_search:
            search = {"search_mode": search_mode, "limit": limit, "offset": offset} | _given(
                namespace=namespace,
                topics=topics,
                entities=entities,
                created_at=created_at,
                last_accessed=last_accessed,
                user_id=user_id,
                memory_type=memory_type,
                event_date=event_date,
                distance_threshold=distance_threshold,
            )
        request = MemoryPromptRequest.model_validate(
            {"query": query, "session": session, "long_term_search": search}
        )
        within = guard.prompt(request)
        res = self.resources()
        builder = PromptBuilder(res.working, res.long_term)
        return _json(await builder.build(request, within, optimize_query=optimize_query))

    async def set_working_memory(
        self,
        session_id: str,
        memories: list[dict[str, Any]] | None = None,
        messages: list[MemoryMessage] | None = None,
        context: str | None = None,
        data: dict[str, Any] | None = None,
        namespace: str | None = None,
        user_id: str | None = None,
        ttl_seconds: int = 3600,
        long_term_memory_strategy: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Replace this session's working memory: the conversation so far (`messages`: role,
        content), a `context` summary, structured `memories` to keep (each {text, memory_type,
        topics, entities, ...}; an id is made when missing) and free-form `data`. Expires after
        `ttl_seconds`. Returns the stored session."""
        for memory in memories or []:
            if isinstance(memory, dict) and memory.get("id") is None:
                memory.pop("id", None)  # the record makes one
        body = UpdateWorkingMemory.model_validate(
            _given(
                memories=memories,
                messages=[m.model_dump() for m in messages] if messages else None,
                context=context,
                data=data,
                namespace=self.namespace_or_default(namespace),
                user_id=user_id or self.default_user(),
                ttl_seconds=ttl_seconds,
                long_term_memory_strategy=long_term_memory_strategy,
            )
        )
        body.namespace, body.user_id = guard.session_write(
            body.namespace, body.user_id, body.memories
        )
        return _json(await self.resources().working.put(session_id, body))

    async def get_working_memory(
        self,
        session_id: str,
        user_id: str | None = None,
        namespace: str | None = None,
        recent_messages_limit: int | None = None,
    ) -> dict[str, Any]:
        """A session's working memory: its messages (the last `recent_messages_limit` if
        given), summary, memories and data. An error names a session that does not exist."""
        namespace, user_id = guard.session(namespace or url_namespace.get(), user_id)
        found = await self.resources().working.get(
            session_id,
            namespace=namespace,
            user_id=user_id,
            recent_messages_limit=recent_messages_limit,
        )
        return _json(found)

    async def get_long_term_memory(self, memory_id: str) -> dict[str, Any]:
        """One stored memory by its id (as search results and memory prompts list them), with
        every field: read it before correcting it with `edit_long_term_memory`."""
        return _json(guard.readable(await self.resources().long_term.get(memory_id)))

    async def edit_long_term_memory(
        self,
        memory_id: str,
        text: str | None = None,
        topics: list[str] | None = None,
        entities: list[str] | None = None,
        memory_type: MemoryTypeEnum | None = None,
        namespace: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        event_date: str | None = None,
        pinned: bool | None = None,
    ) -> dict[str, Any]:
        """Correct a stored memory: only the fields given change (`event_date` in ISO 8601).
        Use it when the user corrects a fact instead of storing a second, conflicting one.
        Returns the memory as it now is."""
        changes = _given(
            text=text,
            topics=topics,
            entities=entities,
            memory_type=memory_type,
            namespace=namespace,
            user_id=user_id,
            session_id=session_id,
            event_date=event_date,
            pinned=pinned,
        )
        if not changes:
            raise ToolError("No fields provided for update")
        patch = EditMemoryRecordRequest.model_validate(changes)
        visible = guard.edit(patch.model_fields_set, patch.namespace, patch.user_id)
        return _json(await self.resources().long_term.update(memory_id, patch, visible))

    async def delete_long_term_memories(self, memory_ids: list[str]) -> dict[str, Any]:
        """Delete stored memories by id (when the user asks to forget something)."""
        count = await self.resources().long_term.delete(memory_ids, guard.delete())
        return {"status": f"ok, deleted {count} memories"}

    async def compact_long_term_memories(
        self,
        namespace: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        """Merge stored copies of the same text (after normalisation) in a namespace or for
        a user; different texts are kept. `session_id` is accepted and not used (compaction
        spans a user's sessions)."""
        del session_id
        remaining = await self.resources().long_term.compact(
            *guard.lifecycle(
                optional_id("namespace", self.namespace_or_default(namespace)),
                optional_id("user_id", user_id),
                "compaction",
            )
        )
        return {"status": f"ok, {remaining} memories remaining after compaction"}
