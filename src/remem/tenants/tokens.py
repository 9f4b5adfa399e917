"""API tokens from the REST API and the CLI alike: the store built with the server's HMAC key,
the tokens' metadata (never a secret: none is stored), and revocation, kept in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

from remem.auth.principal import Principal
from remem.auth.tokens import TokenInfo, TokenStore
from remem.models.overview import TokenView
from remem.runtime import Resources


def token_store(res: Resources) -> TokenStore:
    key = res.settings.token_hash_key
    return TokenStore(res.redis, res.keys, key.get_secret_value() if key else None)


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def view(info: TokenInfo) -> TokenView:
    return TokenView(
        id=info.id,
        namespaces=list(info.namespaces),
        role=info.role,
        user_id=info.user_id,
        status=info.status(),
        created_at=datetime.fromtimestamp(info.created_at, UTC),
        expires_at=_moment(info.expires_at),
        revoked_at=_moment(info.revoked_at),
    )


async def list_tokens(res: Resources) -> list[TokenView]:
    """Every token still in Redis (active, revoked, or expired a moment ago), oldest first."""
    return [view(info) for info in await token_store(res).list()]


async def revoke_token(res: Resources, who: Principal, token_id: str) -> TokenView:
    """Revoke a token (404 if unknown), recorded in the audit log as ``who``'s act."""
    info = await token_store(res).revoke(token_id)
    await res.audit.record("token.revoke", who, token_id=info.id)
    return view(info)
