"""remem's MCP server (the official MCP SDK, 2.x ``MCPServer``): the ten tools of the upstream
Agent Memory Server 0.15.2 with their names and parameters, so agent prompts written for it keep
working, calling the same services as the REST API.

* Transports: stdio (``remem mcp``) and streamable HTTP, mounted by ``remem serve`` at ``/mcp``
  and ``/{namespace}/mcp``. The namespace in the URL (or ``REMEM_MCP_DEFAULT_NAMESPACE``) scopes
  the tools that take one, as upstream; it is held in a context variable per request, where
  upstream kept it on the server object, shared by concurrent requests.
* Every tool holds its request to the caller's scope through ``remem.auth.guard``, as the REST
  routes do. The URL's namespace is a request like any other (outside the scope: 403); the
  configured defaults apply only where the caller's scope allows them, else the scope's own
  namespace and user are filled in, so neither can widen what a token reaches.
* Errors come back as MCP tool errors with the reason (a remem error's detail, or the invalid
  field): upstream's search swallowed errors into empty results.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from remem.auth import guard
from remem.auth.context import caller
from remem.errors import RememError
from remem.memory.identifiers import optional_id
from remem.memory.prompt import PromptBuilder
from remem.memory.unreadable import reason
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

P = ParamSpec("P")
R = TypeVar("R")
Mode = Literal["semantic", "keyword", "hybrid"]
log = logging.getLogger("remem.mcp")


def _reported(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """remem's errors and invalid values as tool errors with their reason (the SDK hides the
    text of any other exception from the client)."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except RememError as exc:
            if exc.status >= 500:  # the log keeps what the client must not see
                log.warning("%s in tool %s: %s", exc.code, fn.__name__, exc.detail)
            raise ToolError(exc.public_detail) from exc
        except ValidationError as exc:
            raise ToolError(f"invalid input: {reason(exc)}") from exc

    call.__doc__ = inspect.cleandoc(fn.__doc__ or "")  # the tool's description, unindented
    return call


def _json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _given(**values: Any) -> dict[str, Any]:
    """The arguments a caller gave (None: not given), filter models as their JSON."""
    return {
        k: v.model_dump(exclude_none=True) if isinstance(v, BaseModel) else v
        for k, v in values.items()
        if v is not None
    }


def build_server(
    resources: Callable[[], Resources],
    *,
    default_namespace: str | None = None,
    default_user_id: str | None = None,
) -> MCPServer:
    """The MCP server over the services ``resources()`` returns (asked per call, so the HTTP
    app can build it before its lifespan has made them)."""
    # The SDK's server calls logging.basicConfig with a rich handler, which takes the root
    # logger of a process that has not set up logging yet (lines wrapped over several): a
    # handler held meanwhile makes that call do nothing, and remem's own setup (remem.logs) or
    # the embedding application's stays in charge.
    root, placeholder = logging.getLogger(), logging.NullHandler()
    root.addHandler(placeholder)
    try:
        server = MCPServer(
            "remem",
            instructions="Long-term and working memory for this agent: search what you know "
            "about the user before answering, and store durable facts, preferences and events "
            "as you learn them.",
        )
    finally:
        root.removeHandler(placeholder)

    def fallback_namespace() -> str | None:
        """The URL's namespace, else the configured default if the caller may use it."""
        named = url_namespace.get()
        if named is not None:
            return named
        if default_namespace is not None and caller().allows_namespace(default_namespace):
            return default_namespace
        return None

    def default_user() -> str | None:
        if default_user_id is not None and caller().allows_user(default_user_id):
            return default_user_id
        return None

    def namespace_or_default(namespace: str | None) -> str | None:
        return namespace or fallback_namespace()

    def scope_filter(namespace: TagFilter | None) -> TagFilter | None:
        if namespace is not None:
            return namespace
        fallback = fallback_namespace()
        return TagFilter(eq=fallback) if fallback else None

    @server.tool()
    @_reported
    async def get_current_datetime() -> dict[str, str | int]:
        """The current date and time in UTC, for grounding relative time ("today", "last
        week") before writing a memory: put the date in the memory's text and in `event_date`
        of episodic memories. Returns `iso_utc` (ISO 8601 with Z) and `unix_ts` (seconds)."""
        now = datetime.now(UTC).replace(microsecond=0)
        return {"iso_utc": now.isoformat().replace("+00:00", "Z"), "unix_ts": int(now.timestamp())}

    @server.tool()
    @_reported
    async def create_long_term_memories(memories: list[dict[str, Any]]) -> dict[str, Any]:
        """Store durable memories to find later with `search_long_term_memory`: facts and
        preferences (`memory_type` "semantic") and events (`"episodic"`, with `event_date` in ISO
        8601). Each memory: `text` (required: one self-contained statement, names not pronouns),
        optional `id`, `topics`, `entities`, `memory_type`, `event_date`, `namespace`,
        `user_id`, `session_id`, `pinned`. A memory with the same text as a stored one in the
        same namespace and user is not stored twice. Returns {"status": "ok"}."""
        for memory in memories:
            if isinstance(memory, dict):
                memory.setdefault("namespace", namespace_or_default(None))
                memory.setdefault("user_id", default_user())
        body = CreateMemoryRecordRequest.model_validate({"memories": memories})
        guard.new_records(body.memories)
        await resources().long_term.create(body.memories, deduplicate=body.deduplicate)
        return {"status": "ok"}

    @server.tool()
    @_reported
    async def search_long_term_memory(
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
        request = SearchRequest.model_validate(
            {"text": text or "", "search_mode": search_mode, "limit": limit, "offset": offset}
            | _given(
                session_id=session_id,
                namespace=scope_filter(namespace),
                topics=topics,
                entities=entities,
                created_at=created_at,
                last_accessed=last_accessed,
                user_id=user_id,
                memory_type=memory_type,
                event_date=event_date,
                role=role,
                distance_threshold=distance_threshold,
                recency_boost=recency_boost,
                recency_semantic_weight=recency_semantic_weight,
                recency_recency_weight=recency_recency_weight,
                recency_freshness_weight=recency_freshness_weight,
                recency_novelty_weight=recency_novelty_weight,
                recency_half_life_last_access_days=recency_half_life_last_access_days,
                recency_half_life_created_days=recency_half_life_created_days,
                server_side_recency=server_side_recency,
            )
        )
        within = guard.search(request)
        found = await resources().long_term.search(request, within, optimize_query=optimize_query)
        return _json(found)

    @server.tool()
    @_reported
    async def memory_prompt(
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
        namespace = scope_filter(namespace)
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
        res = resources()
        builder = PromptBuilder(res.working, res.long_term)
        return _json(await builder.build(request, within, optimize_query=optimize_query))

    @server.tool()
    @_reported
    async def set_working_memory(
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
                namespace=namespace_or_default(namespace),
                user_id=user_id or default_user(),
                ttl_seconds=ttl_seconds,
                long_term_memory_strategy=long_term_memory_strategy,
            )
        )
        body.namespace, body.user_id = guard.session_write(
            body.namespace, body.user_id, body.memories
        )
        return _json(await resources().working.put(session_id, body))

    @server.tool()
    @_reported
    async def get_working_memory(
        session_id: str,
        user_id: str | None = None,
        namespace: str | None = None,
        recent_messages_limit: int | None = None,
    ) -> dict[str, Any]:
        """A session's working memory: its messages (the last `recent_messages_limit` if
        given), summary, memories and data. An error names a session that does not exist."""
        namespace, user_id = guard.session(namespace or url_namespace.get(), user_id)
        found = await resources().working.get(
            session_id,
            namespace=namespace,
            user_id=user_id,
            recent_messages_limit=recent_messages_limit,
        )
        return _json(found)

    @server.tool()
    @_reported
    async def get_long_term_memory(memory_id: str) -> dict[str, Any]:
        """One stored memory by its id (as search results and memory prompts list them), with
        every field: read it before correcting it with `edit_long_term_memory`."""
        return _json(guard.readable(await resources().long_term.get(memory_id)))

    @server.tool()
    @_reported
    async def edit_long_term_memory(
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
        return _json(await resources().long_term.update(memory_id, patch, visible))

    @server.tool()
    @_reported
    async def delete_long_term_memories(memory_ids: list[str]) -> dict[str, Any]:
        """Delete stored memories by id (when the user asks to forget something)."""
        count = await resources().long_term.delete(memory_ids, guard.delete())
        return {"status": f"ok, deleted {count} memories"}

    @server.tool()
    @_reported
    async def compact_long_term_memories(
        namespace: str | None = None, user_id: str | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Merge stored copies of the same text (after normalisation) in a namespace or for
        a user; different texts are kept. `session_id` is accepted and not used (compaction
        spans a user's sessions)."""
        del session_id
        remaining = await resources().long_term.compact(
            *guard.lifecycle(
                optional_id("namespace", namespace_or_default(namespace)),
                optional_id("user_id", user_id),
                "compaction",
            )
        )
        return {"status": f"ok, {remaining} memories remaining after compaction"}

    return server
