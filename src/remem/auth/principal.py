"""``Principal``: who is calling and what they may touch.

Every request and every MCP tool call runs as one principal. Authentication (an API token, a
JWT, or none at all when auth is disabled) produces it; authorisation asks it. A principal's
scope has three parts:

- ``namespaces``: exact names, or prefixes written with a trailing ``*`` (``acme/*`` covers
  ``acme/support`` and ``acme/sales``). ``("*",)`` covers every namespace, and records with no
  namespace at all; a scope without ``*`` never sees records that have no namespace.
- ``user_id``: when set, only that user's records and sessions.
- ``role``: ``read`` < ``write`` < ``admin``; each includes the ones before it.

Two ways to use it, for two kinds of operation:

- addressing one thing (a session's key holds its namespace and user): ``namespace()`` and
  ``user()`` resolve what the request named, filling in the scope's only namespace or its user
  when the request named none, and refuse (403) what lies outside;
- filtering many (search, listing): ``namespace_patterns()`` narrows a request that named no
  namespace to the scope's namespaces, so results never widen past the scope.

A record read by id that lies outside the scope is "not found" (``sees()`` is False), so a
caller cannot probe other tenants' ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from remem.errors import Forbidden

Role = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = ("read", "write", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
EVERY_NAMESPACE = "*"


def namespace_matches(pattern: str, namespace: str) -> bool:
    """``pattern`` (an exact name, or a prefix ending in ``*``) covers ``namespace``."""
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    return namespace == pattern


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. ``subject`` names it in receipts and the audit log (``token:<id>``,
    ``jwt:<sub>``, ``local``)."""

    subject: str
    namespaces: tuple[str, ...] = (EVERY_NAMESPACE,)
    user_id: str | None = None
    role: Role = "read"
    # How the caller proved who it is: "token", "jwt", or "local" (auth disabled, stdio MCP,
    # the CLI on the server's own machine).
    via: str = field(default="local", compare=False)

    @property
    def every_namespace(self) -> bool:
        return EVERY_NAMESPACE in self.namespaces

    @property
    def unrestricted(self) -> bool:
        """Sees everything: every namespace and every user (an admin need not be)."""
        return self.every_namespace and self.user_id is None

    def has_role(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: Role, action: str) -> None:
        """Refuse ``action`` (said in the 403) unless the caller's role is at least ``role``."""
        if not self.has_role(role):
            raise Forbidden(f"{action} needs the {role} role; this caller has {self.role}")

    def allows_namespace(self, namespace: str | None) -> bool:
        if self.every_namespace:
            return True
        if namespace is None:
            return False
        return any(namespace_matches(p, namespace) for p in self.namespaces)

    def allows_user(self, user_id: str | None) -> bool:
        return self.user_id is None or user_id == self.user_id

    def sees(self, namespace: str | None, user_id: str | None) -> bool:
        """A record with this namespace and user is within the scope."""
        return self.allows_namespace(namespace) and self.allows_user(user_id)

    def namespace(self, requested: str | None) -> str | None:
        """The namespace an operation on one thing uses: the one requested if the scope covers
        it; with none requested, the scope's only exact namespace (or none, for a scope over
        every namespace). Anything else is a 403 saying why."""
        if requested is not None:
            if not self.allows_namespace(requested):
                raise Forbidden(f"namespace {requested!r} is outside this caller's scope")
            return requested
        if self.every_namespace:
            return None
        exact = [p for p in self.namespaces if not p.endswith("*")]
        if len(self.namespaces) == 1 and exact:
            return exact[0]
        raise Forbidden("this caller's scope covers several namespaces: name one (namespace=...)")

    def user(self, requested: str | None) -> str | None:
        """The user an operation uses: the one requested if the scope allows it; with none
        requested, the scope's user (or none)."""
        if requested is None:
            return self.user_id
        if not self.allows_user(requested):
            raise Forbidden(f"user {requested!r} is outside this caller's scope")
        return requested

    def namespace_patterns(self, requested: str | None) -> tuple[str, ...] | None:
        """The namespaces a search or listing may return: the one requested (403 if outside
        the scope), else the scope's own patterns, or None for no restriction."""
        if requested is not None:
            return (self.namespace(requested),)  # type: ignore[return-value]  # not None here
        if self.every_namespace:
            return None
        return self.namespaces


# Auth disabled, the stdio MCP server, and the CLI run as this: every namespace, every user.
LOCAL_ADMIN = Principal(subject="local", role="admin", via="local")
