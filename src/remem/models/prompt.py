"""``POST /v1/memory/prompt``: the upstream server's (AMS 0.15.2) request and answer shapes, plus
remem's optional token budgets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remem.models.search import MemoryRecordResult, SearchRequest

MAX_TOKENS = 100_000_000  # larger than any context window; keeps the arithmetic bounded


class PromptSession(BaseModel):
    """The session whose summary and messages go into the prompt (AMS's WorkingMemoryRequest)."""

    model_config = ConfigDict(extra="ignore")  # AMS's long_term_memory_strategy: not used here

    session_id: str
    namespace: str | None = None
    user_id: str | None = None
    model_name: str | None = None
    context_window_max: int | None = Field(default=None, ge=1, le=MAX_TOKENS)


class MemoryPromptRequest(BaseModel):
    query: str = Field(min_length=1)
    session: PromptSession | None = None
    long_term_search: SearchRequest | bool | None = None
    session_token_budget: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TOKENS,
        description="remem: at most this many tokens of session messages (the oldest are "
        "dropped first; the summary is always kept). With a model's window too, the smaller.",
    )
    long_term_token_budget: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TOKENS,
        description="remem: at most this many tokens of long-term memories (the lowest ranked "
        "are dropped first).",
    )


class TextContent(BaseModel):
    """MCP's text content, as upstream answers it (its two optional fields as null)."""

    model_config = ConfigDict(populate_by_name=True)

    type: Literal["text"] = "text"
    text: str
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = Field(default=None, alias="_meta")


class PromptMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: TextContent


class MemoryPromptResponse(BaseModel):
    messages: list[PromptMessage]
    long_term_memories: list[MemoryRecordResult] | None = None


def message(role: Literal["system", "user", "assistant"], text: str) -> PromptMessage:
    return PromptMessage(role=role, content=TextContent(text=text))
