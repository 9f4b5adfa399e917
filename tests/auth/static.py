"""A fixed table of bearer strings and the principals they prove: an ``Authenticator`` of our
own for tests of authorisation, which do not depend on how real tokens are made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from remem.auth.principal import Principal
from remem.errors import Unauthenticated


@dataclass(frozen=True)
class StaticTokens:
    tokens: Mapping[str, Principal]

    async def authenticate(self, authorization: str | None) -> Principal:
        if authorization is None:
            raise Unauthenticated("no credentials: send Authorization: Bearer <token>")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise Unauthenticated("unknown token")
        return self.tokens[token]
