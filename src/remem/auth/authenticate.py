"""How a request proves who it is: an ``Authenticator`` turns the ``Authorization`` header
into a ``Principal`` or refuses with ``Unauthenticated`` (401, said why).

One per server process, chosen by ``REMEM_AUTH_MODE``. ``Disabled`` makes every caller the
local admin.
"""

from __future__ import annotations

from typing import Protocol

from remem.auth.principal import LOCAL_ADMIN, Principal


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller presenting ``authorization`` (the header's value, or None when absent).
        Raises ``remem.errors.Unauthenticated`` with the reason."""
        ...


class Disabled:
    """No authentication: every caller is the local admin (loopback binds only, unless
    explicitly allowed)."""

    async def authenticate(self, authorization: str | None) -> Principal:
        return LOCAL_ADMIN
