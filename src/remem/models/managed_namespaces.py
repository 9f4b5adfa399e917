"""The managed API's namespace resources on the wire (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from remem.models.managed import Camel

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^/\x00-\x1f]+$")]
Scope = Literal["PERSONAL", "SHARED"]


class Namespace(Camel):
    namespace_id: str
    name: str
    root_id: str
    scope: str
    state: str
    revision: int
    created_at: datetime
    updated_at: datetime
    path: str
    parent_id: str | None = None
    owner_id: str | None = None


class NamespaceAnswer(Camel):
    namespace: Namespace


class NamespacePage(Camel):
    items: list[Namespace]
    next_page_token: str | None = None


class CreateNamespace(Camel):
    name: Name | None = None
    path: str | None = Field(default=None, min_length=1, max_length=1024)
    scope: Scope | None = None
    parent_id: str | None = Field(default=None, min_length=1, max_length=64)
    owner_id: str | None = Field(default=None, min_length=1, max_length=64)


class UpdateNamespace(Camel):
    name: Name | None = None
    state: Literal["ARCHIVED"] | None = None
