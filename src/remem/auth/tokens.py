"""API tokens: random, shown once, stored only as a keyed hash, checked with one lookup.

A token reads ``rmm_<id>_<secret>``: ``id`` (12 hex characters) is public and names the token
in ``remem token list``, ``revoke`` and the audit log; ``secret`` is 32 random bytes
(``secrets.token_urlsafe``, 256 bits). Redis keeps, under ``<prefix>{auth}:token:<digest>``,
the token's scope and dates, where ``digest`` is HMAC-SHA256 of the whole token. Checking a
token is one HGETALL of the key its digest names: the same cost with 10 tokens or 10,000
(``bench/auth.py``), where the upstream server bcrypt-checked every stored token in turn.

Why HMAC and not bcrypt: a token carries 256 random bits, so nobody can guess it, slowly or
fast; a slow hash only protects low-entropy passwords, and a salted one cannot be looked up.
The key (``REMEM_TOKEN_HASH_KEY``) means a copy of Redis alone does not let anyone test a
candidate token against the digests. Without the setting, remem generates a key once and keeps
it in Redis (SET NX, so every process agrees on it): simpler to run, but then a copy of Redis
holds the key too, and only the tokens' randomness protects them. Set the key to keep the two
apart. Deleting the key invalidates every token.

Nothing is cached in the process: every check reads Redis, so a revocation is seen by every
server at once. Expiry is enforced twice: the check compares ``expires_at`` with the clock, and
the record carries a Redis expiry at the same instant, so expired tokens leave Redis by
themselves. A revoked token's record stays (marked revoked, until its expiry if it has one) so
a check can say "revoked" rather than "unknown".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

from remem.auth.principal import ROLES, Principal, Role
from remem.errors import BackendUnavailable, InvalidInput, NotFound, Unauthenticated
from remem.memory.identifiers import id_problem
from remem.store.keys import Keys
from remem.store.tokens import TokenRecords

if TYPE_CHECKING:
    from redis.asyncio import Redis

PREFIX = "rmm_"
_ID = re.compile(r"[0-9a-f]{12}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What Redis keeps of a token (never the token)."""

    id: str
    namespaces: tuple[str, ...]
    role: Role
    user_id: str | None
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None

    def principal(self) -> Principal:
        return Principal(
            subject=f"token:{self.id}",
            namespaces=self.namespaces,
            user_id=self.user_id,
            role=self.role,
            via="token",
        )

    def status(self, now: float | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or time.time()):
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "namespaces": list(self.namespaces), "status": self.status()}


def token_id_of(token: str) -> str | None:
    """The public id of something shaped like a token (for the audit log), else None."""
    if token.startswith(PREFIX):
        candidate = token[len(PREFIX) : len(PREFIX) + 12]
        if _ID.fullmatch(candidate):
            return candidate
    return None


def validate_scope(namespaces: list[str] | tuple[str, ...], role: str, user_id: str | None) -> None:
    if not namespaces:
        raise InvalidInput("a token needs at least one namespace (`*` for all of them)")
    for namespace in namespaces:
        # Any namespace a record can have (remem.memory.identifiers: printable, unicode and
        # query syntax included, no edge whitespace), with `*` only as a prefix's last
        # character: a namespace that itself ends in `*` cannot be named exactly.
        name = namespace[:-1] if namespace.endswith("*") else namespace
        problem = None if namespace == "*" else id_problem("namespace", name)
        if problem is not None or "*" in name:
            raise InvalidInput(
                f"namespace {namespace!r}: an exact name, a prefix ending in `*`, or `*` "
                f"({problem or '`*` only at the end'})"
            )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r}: one of {', '.join(ROLES)}")
    if user_id is not None and not user_id.strip():
        raise InvalidInput("user: give a user id, or leave it out")


class TokenStore:
    def __init__(self, redis: Redis, keys: Keys, hash_key: str | None = None) -> None:
        self.records = TokenRecords(redis, keys)
        self._hash_key = hash_key.encode() if hash_key else None

    @property
    def redis(self) -> Redis:
        return self.records.redis

    async def _key(self) -> bytes:
        """The HMAC key: the setting, else the one kept in Redis (made by the first process
        that needed it, so every process agrees). Kept in the process: it never changes, and
        it decides nothing about revocation."""
        if self._hash_key is None:
            self._hash_key = (await self.records.hash_key(secrets.token_hex(32))).encode()
        return self._hash_key

    async def digest(self, token: str) -> str:
        return hmac.new(await self._key(), token.encode(), hashlib.sha256).hexdigest()

    async def create(
        self,
        namespaces: list[str] | tuple[str, ...],
        *,
        role: str = "read",
        user_id: str | None = None,
        expires_in_seconds: float | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token and what is kept of it. The token is returned once and never stored."""
        validate_scope(namespaces, role, user_id)
        if expires_in_seconds is not None and expires_in_seconds <= 0:
            raise InvalidInput("expiry: a positive number of days")
        now = time.time()
        info = TokenInfo(
            id=secrets.token_hex(6),
            namespaces=tuple(dict.fromkeys(namespaces)),
            role=cast(Role, role),
            user_id=user_id,
            created_at=now,
            expires_at=now + expires_in_seconds if expires_in_seconds else None,
        )
        token = f"{PREFIX}{info.id}_{secrets.token_urlsafe(32)}"
        await self.records.add(info.id, await self.digest(token), _fields(info), info.expires_at)
        return token, info

    async def check(self, token: str) -> TokenInfo:
        """The token's record if it holds; ``Unauthenticated`` saying why not."""
        if not token.startswith(PREFIX):
            raise Unauthenticated("malformed token: not a remem API token (rmm_...)")
        token_id = token_id_of(token)
        secret = token[len(PREFIX) + 13 :]
        if token_id is None or token[len(PREFIX) + 12 : len(PREFIX) + 13] != "_":
            raise Unauthenticated("malformed token: rmm_ then a 12-character id")
        if not _SECRET.fullmatch(secret):
            raise Unauthenticated(f"malformed token {token_id}: its secret is not 43 characters")
        fields = await self.records.get(await self.digest(token))
        if not fields:
            raise Unauthenticated(f"unknown token {token_id} (never issued, or expired)")
        info = _info(fields)
        if info.revoked_at is not None:
            raise Unauthenticated(f"token {info.id} was revoked")
        if info.expires_at is not None and info.expires_at <= time.time():
            raise Unauthenticated(f"token {info.id} expired")
        return info

    async def list(self) -> list[TokenInfo]:
        """Every token still in Redis (active, revoked, or expired a moment ago), oldest
        first. Index entries of tokens Redis expired are dropped on the way."""
        every = await self.records.every()
        await self.records.forget(*(token_id for token_id, fields in every if not fields))
        return sorted((_info(f) for _, f in every if f), key=lambda info: info.created_at)

    async def revoke(self, token_id: str) -> TokenInfo:
        """Mark the token revoked: every check from now on, in every process, refuses it."""
        digest = await self.records.digest_of(token_id)
        if digest is None:
            raise NotFound(f"no token {token_id!r} (see `remem token list`)")
        fields = await self.records.revoke(digest, time.time())
        if not fields:
            await self.records.forget(token_id)
            raise NotFound(f"token {token_id!r} has expired and is gone")
        return _info(fields)


async def watch(store: TokenStore, token: str, interval: float = 1.0) -> None:
    """Check ``token`` every ``interval`` seconds; raise ``Unauthenticated`` once it no longer
    holds. A long-running process that acts as one token (``remem mcp`` with
    REMEM_MCP_TOKEN) runs this beside its work, so a revocation stops it within a second.
    Redis being briefly unreachable is not a revocation: it keeps watching."""
    while True:
        await asyncio.sleep(interval)
        try:
            await store.check(token)
        except BackendUnavailable:  # the store's translation of an unreachable Redis
            continue


def _fields(info: TokenInfo) -> dict[str, str]:
    fields = {
        "id": info.id,
        "namespaces": json.dumps(list(info.namespaces)),
        "role": info.role,
        "created_at": repr(info.created_at),
    }
    if info.user_id is not None:
        fields["user_id"] = info.user_id
    if info.expires_at is not None:
        fields["expires_at"] = repr(info.expires_at)
    return fields


def _info(fields: dict[str, str]) -> TokenInfo:
    def number(name: str) -> float | None:
        value = fields.get(name)
        return float(value) if value is not None else None

    return TokenInfo(
        id=fields["id"],
        namespaces=tuple(json.loads(fields["namespaces"])),
        role=cast(Role, fields["role"]),
        user_id=fields.get("user_id"),
        created_at=float(fields["created_at"]),
        expires_at=number("expires_at"),
        revoked_at=number("revoked_at"),
    )
