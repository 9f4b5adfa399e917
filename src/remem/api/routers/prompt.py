"""The memory prompt: /v1/memory/prompt (Agent Memory Server 0.15 path and shapes)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from remem.api.deps import long_term_memory, working_memory
from remem.auth import guard
from remem.memory.longterm import LongTermMemoryService
from remem.memory.prompt import PromptBuilder
from remem.memory.query_rewrite import OPTIMIZE_QUERY
from remem.memory.working import WorkingMemoryService
from remem.models.prompt import MemoryPromptRequest, MemoryPromptResponse

router = APIRouter(tags=["memory prompt"])


@router.post("/v1/memory/prompt", response_model=MemoryPromptResponse)
async def memory_prompt(
    body: MemoryPromptRequest,
    optimize_query: bool = Query(default=False, description=OPTIMIZE_QUERY),
    working: WorkingMemoryService = Depends(working_memory),
    long_term: LongTermMemoryService = Depends(long_term_memory),
) -> MemoryPromptResponse:
    """The messages to send an LLM for ``query``: the session's summary (a system message) and
    recent messages, the long-term memories relevant to the query (a system message listing
    each with its id), then the query as the user's message. ``long_term_search`` is a search
    (its filters; its text is the query) or ``true`` (the query, in the session's namespace and
    for its user, leaving out the session's own memories). ``session_token_budget`` and
    ``long_term_token_budget`` (remem) bound each part."""
    within = guard.prompt(body)
    builder = PromptBuilder(working, long_term)
    return await builder.build(body, within, optimize_query=optimize_query)
