"""Authentication settings (``remem.auth``; docs/security.md)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings


class AuthSettings(BaseSettings):
    """Who may call: the auth mode, API tokens and OAuth2."""

    auth_mode: Literal["disabled", "token", "oauth2"] = Field(
        default="disabled",
        validation_alias=AliasChoices("REMEM_AUTH_MODE", "AUTH_MODE", "auth_mode"),
        description="`disabled`: every caller is the local admin (loopback binds only, see "
        "REMEM_ALLOW_REMOTE_WITHOUT_AUTH). `token`: API tokens from `remem token create`. "
        "`oauth2`: JWTs signed by the REMEM_OAUTH2_ISSUER_URL's keys. Also read from the "
        "upstream server's AUTH_MODE; `remem serve --auth` sets it.",
    )
    disable_auth: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_DISABLE_AUTH", "DISABLE_AUTH", "disable_auth"),
        description="The upstream server's DISABLE_AUTH, read so its deployments mean the same "
        "here: `true` with an auth mode other than `disabled`, or `false` with no auth mode, "
        "refuses to start (the upstream server would silently run without auth).",
    )
    token_auth_enabled: bool | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_TOKEN_AUTH_ENABLED", "TOKEN_AUTH_ENABLED", "token_auth_enabled"
        ),
        description="The upstream server's TOKEN_AUTH_ENABLED: `true` with no auth mode set "
        "means `token`; with another mode set, it refuses to start.",
    )
    allow_remote_without_auth: bool = Field(
        default=False,
        description="Let `remem serve` listen on a non-loopback address with auth disabled "
        "(anyone who reaches the port is the admin). Off: it refuses to start.",
    )
    token_hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC-SHA256 under which API tokens are stored (32+ random "
        "bytes, e.g. `openssl rand -hex 32`). Unset: generated once and kept in Redis, so "
        "whoever reads Redis holds both the key and the digests.",
    )
    mcp_token: SecretStr | None = Field(
        default=None,
        description="An API token `remem mcp` (stdio) runs as, with that token's scope. "
        "Unset: the local admin.",
    )
    oauth2_issuer_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_ISSUER_URL", "OAUTH2_ISSUER_URL", "oauth2_issuer_url"
        ),
        description="`oauth2` mode: the `iss` every JWT must carry (required; also "
        "OAUTH2_ISSUER_URL).",
    )
    oauth2_audience: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_AUDIENCE", "OAUTH2_AUDIENCE", "oauth2_audience"
        ),
        description="`oauth2` mode: the `aud` every JWT must carry (required: a token minted "
        "for another service of the same issuer is refused; also OAUTH2_AUDIENCE).",
    )
    oauth2_jwks_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_JWKS_URL", "OAUTH2_JWKS_URL", "oauth2_jwks_url"
        ),
        description="`oauth2` mode: where the issuer's public keys are (also OAUTH2_JWKS_URL). "
        "Unset: `<issuer>/.well-known/jwks.json`.",
    )
    oauth2_algorithms: list[str] = Field(
        default=["RS256", "RS384", "RS512"],
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_ALGORITHMS", "OAUTH2_ALGORITHMS", "oauth2_algorithms"
        ),
        description="`oauth2` mode: JWT signature algorithms accepted (a JSON list; also "
        "OAUTH2_ALGORITHMS). Public-key ones only (RS, PS, ES, EdDSA): `none` and HS* are "
        "refused at start.",
    )
    oauth2_jwks_cache_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="`oauth2` mode: how long fetched keys are used before fetching again. A "
        "token naming an unknown key id fetches at once, at most every 30 s.",
    )
    oauth2_namespaces_claim: str = Field(
        default="namespaces",
        description="`oauth2` mode: the claim holding the caller's namespaces (a list, or a "
        "space-separated string; exact names or prefixes ending in `*`; `*` = all). A JWT "
        "without it is refused.",
    )
    oauth2_user_claim: str = Field(
        default="user_id",
        description="`oauth2` mode: the claim holding the one user the caller may act for "
        "(absent: any user in its namespaces).",
    )
    oauth2_role_claim: str = Field(
        default="role",
        description="`oauth2` mode: the claim holding the role, `read`, `write` or `admin` (a "
        "list: the highest known one counts; absent or unknown: `read`).",
    )

    @model_validator(mode="after")
    def _upstream_token_mode(self) -> Self:
        """TOKEN_AUTH_ENABLED=true with no mode named asks for token auth (remem.auth.modes
        refuses it beside another mode)."""
        if self.token_auth_enabled and "auth_mode" not in self.model_fields_set:
            self.auth_mode = "token"
        return self
