"""API tokens against the test Redis: what is stored (never the token), expiry, revocation."""

from __future__ import annotations

import asyncio
import time

import pytest

from remem.auth.tokens import PREFIX, TokenStore, token_id_of
from remem.errors import InvalidInput, NotFound, Unauthenticated
from remem.runtime import Resources


@pytest.fixture
def store(resources: Resources) -> TokenStore:
    return TokenStore(resources.redis, resources.keys)


async def test_a_token_gives_its_scope_and_redis_never_holds_it(
    store: TokenStore, resources: Resources
) -> None:
    token, info = await store.create(["acme/*", "shared"], role="write", user_id="ada")
    assert token.startswith(PREFIX) and token_id_of(token) == info.id
    assert len(token[17:]) >= 43  # 32 random bytes, urlsafe base64
    principal = (await store.check(token)).principal()
    assert principal.subject == f"token:{info.id}" and principal.via == "token"
    assert principal.namespaces == ("acme/*", "shared")
    assert (principal.user_id, principal.role) == ("ada", "write")
    secret = token[17:]
    async for key in resources.redis.scan_iter(match=f"{resources.keys.prefix}*"):
        assert secret not in key
        kind = await resources.redis.type(key)
        if kind == "hash":
            for field, value in (await resources.redis.hgetall(key)).items():
                assert secret not in field and secret not in value
        elif kind == "string":
            assert secret not in await resources.redis.get(key)


async def test_the_hash_key_setting_changes_every_digest(resources: Resources) -> None:
    """Tokens made under one key do not hold under another (the key is what a copy of Redis
    lacks when REMEM_TOKEN_HASH_KEY is set)."""
    one = TokenStore(resources.redis, resources.keys, "k" * 32)
    other = TokenStore(resources.redis, resources.keys, "j" * 32)
    token, _ = await one.create(["n"])
    assert (await one.check(token)).namespaces == ("n",)
    with pytest.raises(Unauthenticated, match="unknown token"):
        await other.check(token)


async def test_the_generated_hash_key_is_shared_by_every_process(resources: Resources) -> None:
    first = TokenStore(resources.redis, resources.keys)
    token, _ = await first.create(["n"])
    second = TokenStore(resources.redis, resources.keys)  # another process would start so
    assert (await second.check(token)).namespaces == ("n",)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "not a remem API token"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.sig", "not a remem API token"),
        ("rmm_XYZ", "12-character id"),
        ("rmm_0123456789ab", "12-character id"),
        ("rmm_0123456789ab_short", "secret is not 43"),
        ("rmm_0123456789ab_" + "A" * 43, "unknown token 0123456789ab"),
    ],
)
async def test_bad_tokens_are_refused_saying_why(
    store: TokenStore, token: str, reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        await store.check(token)


async def test_expiry_is_enforced_at_check_time_and_by_redis(
    store: TokenStore, resources: Resources
) -> None:
    token, info = await store.create(["n"], expires_in_seconds=3600)
    key = resources.keys.auth_token(await store.digest(token))
    ttl = await resources.redis.pttl(key)
    assert 3_590_000 < ttl <= 3_600_001  # Redis drops it at the same instant
    # The clock passes expires_at before Redis has dropped the key: the check refuses it.
    await resources.redis.hset(key, "expires_at", repr(time.time() - 1))
    with pytest.raises(Unauthenticated, match=f"token {info.id} expired"):
        await store.check(token)
    short, _ = await store.create(["n"], expires_in_seconds=0.3)
    await store.check(short)
    await asyncio.sleep(0.5)
    with pytest.raises(Unauthenticated, match="expired"):
        await store.check(short)
    assert not await resources.redis.exists(resources.keys.auth_token(await store.digest(short)))


async def test_revoked_tokens_are_refused_and_listed_as_revoked(store: TokenStore) -> None:
    token, info = await store.create(["n"], role="admin")
    kept, _ = await store.create(["m"])
    await store.revoke(info.id)
    with pytest.raises(Unauthenticated, match=f"token {info.id} was revoked"):
        await store.check(token)
    await store.check(kept)
    statuses = {t.id: t.status() for t in await store.list()}
    assert statuses[info.id] == "revoked" and list(statuses.values()).count("active") == 1
    with pytest.raises(NotFound):
        await store.revoke("0123456789ab")


async def test_a_token_covers_any_namespace_a_record_can_have(store: TokenStore) -> None:
    """Namespaces are ids (spaces inside, unicode, query syntax): a token must be able to name
    every one of them, exactly or as a prefix."""
    names = ["a b", "b-ü {t}|x/*", "x:y@z"]
    token, _ = await store.create(names, role="write")
    assert (await store.check(token)).namespaces == tuple(names)


async def test_list_forgets_tokens_redis_expired(store: TokenStore, resources: Resources) -> None:
    await store.create(["n"], expires_in_seconds=0.2)
    await asyncio.sleep(0.4)
    assert await store.list() == []
    assert await resources.redis.hlen(resources.keys.auth_tokens) == 0


@pytest.mark.parametrize(
    ("namespaces", "role", "user"),
    [([], "read", None), ([" a"], "read", None), (["a*b"], "read", None),
     (["n"], "owner", None), (["n"], "read", " ")],
)  # fmt: skip
async def test_scopes_that_mean_nothing_are_refused(
    store: TokenStore, namespaces: list[str], role: str, user: str | None
) -> None:
    with pytest.raises(InvalidInput):
        await store.create(namespaces, role=role, user_id=user)
