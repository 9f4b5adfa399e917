"""Callers for tests: an ``Authenticator`` that takes ``Bearer <name>`` and serves the request
as the principal registered under that name (a stand-in for real tokens, which are another
part of remem; this one exercises the same middleware and the same checks)."""

from __future__ import annotations

from remem.auth.principal import Principal
from remem.errors import Unauthenticated


class Named:
    def __init__(self, principals: dict[str, Principal]) -> None:
        self.principals = principals

    async def authenticate(self, authorization: str | None) -> Principal:
        name = (authorization or "").removeprefix("Bearer ")
        try:
            return self.principals[name]
        except KeyError:
            raise Unauthenticated("unknown test token") from None


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


TENANTS = {
    "admin": Principal("token:admin", role="admin", via="token"),
    "acme-writer": Principal("token:acme-w", namespaces=("acme/*",), role="write", via="token"),
    "acme-reader": Principal("token:acme-r", namespaces=("acme/*",), role="read", via="token"),
    "alice": Principal(
        "token:alice", namespaces=("acme/support",), user_id="alice", role="write", via="token"
    ),
    "globex-admin": Principal("token:globex", namespaces=("globex",), role="admin", via="token"),
}
