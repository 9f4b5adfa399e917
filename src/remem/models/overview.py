"""Wire models of the console's overview routes: ``GET /v1/namespaces`` (remem only; the
upstream server has none of them)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class NamespaceInfo(BaseModel):
    name: str = Field(description="The namespace.")
    sessions: int = Field(description="Its live working-memory sessions (the caller's user's).")
    memories: int = Field(description="Its long-term memories (the caller's user's).")


class NamespaceList(BaseModel):
    namespaces: list[NamespaceInfo] = Field(description="This page, sorted by name.")
    total: int = Field(description="Namespaces the caller may see that hold anything.")
