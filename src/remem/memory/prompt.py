"""The memory prompt: the messages to send an LLM for a query, built from a session (its summary
and recent messages) and the long-term memories relevant to the query, as the upstream server
renders them (so agents written for it get the same prompt), with what it gets wrong fixed:

* ``long_term_search: true`` searches for the query (AMS searched with no text at all, so the
  memories it added were the newest, not the relevant ones), scoped to the session's namespace
  and user, leaving out the session's own memories (its messages are already in the prompt);
* optional token budgets for the session part (oldest messages dropped first, the summary kept)
  and the long-term part (lowest ranked dropped first);
* a session that does not exist is an empty session, as upstream; neither a session nor a
  search is a 400 with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from remem.errors import InvalidInput, NotFound
from remem.memory.filters import Within
from remem.memory.longterm import LongTermMemoryService
from remem.memory.tokens import context_window, estimate_tokens, keep_within
from remem.memory.working import WorkingMemoryService
from remem.models.prompt import (
    MemoryPromptRequest,
    MemoryPromptResponse,
    PromptMessage,
    PromptSession,
    message,
)
from remem.models.search import MemoryRecordResult, SearchRequest, TagFilter
from remem.models.working import MemoryMessage

SUMMARY_HEADING = "## A summary of the conversation so far:\n"
MEMORIES_HEADING = "## Long term memories related to the user's query\n "
NO_MEMORIES = (
    "## Long term memories related to the user's query\n No relevant long-term memories found."
)
DEFAULT_LIMIT = 20  # memories when long_term_search is true, as upstream


@dataclass
class PromptBuilder:
    working: WorkingMemoryService
    long_term: LongTermMemoryService

    async def build(
        self,
        request: MemoryPromptRequest,
        within: Within | None = None,
        *,
        optimize_query: bool = False,
    ) -> MemoryPromptResponse:
        """The prompt; its long-term search never leaves ``within`` (the caller's scope), its
        query rewritten by the LLM with ``optimize_query`` (``memory.query_rewrite``); the
        user's message is the query as given."""
        if request.session is None and not request.long_term_search:
            raise InvalidInput("Either session or long_term_search must be provided")
        messages: list[PromptMessage] = []
        if request.session is not None:
            messages += await self._session(request.session, request.session_token_budget)
        found: list[MemoryRecordResult] | None = None
        if request.long_term_search:
            search = self._search(request)
            result = await self.long_term.search(search, within, optimize_query=optimize_query)
            found = _within(result.memories, request.long_term_token_budget)
            if found:
                lines = "\n".join(f"- {m.text} (ID: {m.id})" for m in found)
                messages.append(message("system", MEMORIES_HEADING + lines))
            else:
                messages.append(message("system", NO_MEMORIES))
        messages.append(message("user", request.query))
        return MemoryPromptResponse(messages=messages, long_term_memories=found or None)

    async def _session(self, session: PromptSession, budget: int | None) -> list[PromptMessage]:
        try:
            memory = await self.working.get(
                session.session_id, namespace=session.namespace, user_id=session.user_id
            )
        except NotFound:  # upstream: an empty session
            return []
        out = []
        if memory.context:
            out.append(message("system", SUMMARY_HEADING + memory.context))
        window = context_window(session.model_name, session.context_window_max)
        if session.model_name and window is None:
            window = 16_000  # upstream's default for a model it does not know
        limits = [n for n in (window, budget) if n is not None]
        recent: list[MemoryMessage] = memory.messages
        if limits:
            recent = keep_within(recent, min(limits)) if min(limits) > 0 else []
        # Upstream answers in MCP's message roles: anything not the user's is the assistant's.
        out += [message("user" if m.role == "user" else "assistant", m.content) for m in recent]
        return out

    @staticmethod
    def _search(request: MemoryPromptRequest) -> SearchRequest:
        session = request.session
        if isinstance(request.long_term_search, SearchRequest):
            update: dict[str, object] = {"text": request.query}
            if session is not None and session.user_id and request.long_term_search.user_id is None:
                update["user_id"] = TagFilter(eq=session.user_id)
            return request.long_term_search.model_copy(update=update)
        scope: dict[str, object] = {"text": request.query, "limit": DEFAULT_LIMIT}
        if session is not None:
            scope["session_id"] = {"ne": session.session_id}
            if session.namespace:
                scope["namespace"] = {"eq": session.namespace}
            if session.user_id:
                scope["user_id"] = {"eq": session.user_id}
        return SearchRequest.model_validate(scope)


def _within(found: list[MemoryRecordResult], budget: int | None) -> list[MemoryRecordResult]:
    """The best-ranked memories whose lines fit ``budget`` tokens (all without one)."""
    if budget is None:
        return found
    kept, used = [], 0
    for memory in found:
        cost = estimate_tokens(f"- {memory.text} (ID: {memory.id})\n")
        if used + cost > budget:
            break
        kept.append(memory)
        used += cost
    return kept
