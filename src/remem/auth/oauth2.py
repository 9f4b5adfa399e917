"""``REMEM_AUTH_MODE=oauth2``: JWTs signed by an OAuth2 / OIDC issuer's keys (its JWKS).

A JWT holds when: its header names an accepted public-key algorithm (``none`` and HS* are
refused before anything else: an HS256 token "signed" with the issuer's public key as the
HMAC secret is the classic forgery), its key id is in the issuer's JWKS and that key is of the
algorithm's type, the signature verifies, and ``iss``, ``aud``, ``exp`` and ``sub`` are present
and right (30 s of clock skew allowed). Its scope comes from claims named in the settings.

The JWKS is fetched with httpx's async client (the event loop never waits on the network in a
blocking call, unlike the upstream server's ``httpx.Client`` inside a request), kept for
``REMEM_OAUTH2_JWKS_CACHE_SECONDS``, and fetched again at once when a token names a key id not
in it (a key rotation), at most every 30 s so tokens with made-up key ids cannot make remem
hammer the issuer. If the issuer cannot be reached, the keys already held are used; with none
held, requests get 503 (retryable), not 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
import jwt

from remem.auth.bearer import FailureLog, ResourcesOf, bearer
from remem.auth.principal import ROLES, Principal, Role
from remem.auth.tokens import validate_scope
from remem.errors import BackendUnavailable, InvalidInput, Unauthenticated

log = logging.getLogger("remem.auth")

# Public-key algorithms and the JWK key type each needs.
KEY_TYPES = {
    **{f"RS{n}": "RSA" for n in (256, 384, 512)},
    **{f"PS{n}": "RSA" for n in (256, 384, 512)},
    **{f"ES{n}": "EC" for n in (256, 384, 512)},
    "EdDSA": "OKP",
}
LEEWAY_SECONDS = 30
REFETCH_SECONDS = 30.0  # an unknown key id fetches the JWKS again at most this often
RETRY_SECONDS = 5.0  # a failed fetch is retried at most this often


def check_algorithms(algorithms: list[str]) -> None:
    if not algorithms:
        raise InvalidInput("REMEM_OAUTH2_ALGORITHMS: name at least one algorithm")
    for name in algorithms:
        if name not in KEY_TYPES:
            raise InvalidInput(
                f"REMEM_OAUTH2_ALGORITHMS: {name!r} is not accepted; public-key algorithms "
                f"only ({', '.join(KEY_TYPES)}): `none` is unsigned, and HS* would take the "
                "issuer's public key as a shared secret"
            )


@dataclass(frozen=True, slots=True)
class IssuerKey:
    jwk: jwt.PyJWK
    alg: str | None  # the algorithm the JWK itself names, if it names one


class Jwks:
    """The issuer's public keys by key id, fetched without blocking and cached."""

    def __init__(self, url: str, *, cache_seconds: float, timeout: float = 10.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._keys: dict[str | None, IssuerKey] = {}
        self._fetched_at = -float("inf")  # monotonic time of the last successful fetch
        self._tried_at = -float("inf")  # of the last attempt
        self._unknown_at = -float("inf")  # of the last fetch an unknown key id caused
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str | None) -> IssuerKey:
        now = time.monotonic()
        if now - self._fetched_at > self.cache_seconds:
            await self._refresh(now)
        found = self._find(kid)
        # A key id not held: a rotation, perhaps. Fetch again, but at most every 30 s, so
        # tokens with made-up key ids cannot make remem hammer the issuer.
        if found is None and self._keys and now - self._unknown_at >= REFETCH_SECONDS:
            self._unknown_at = now
            await self._refresh(now, force=True)
            found = self._find(kid)
        if not self._keys:
            raise BackendUnavailable(
                f"cannot verify JWTs: the issuer's keys could not be fetched from {self.url}"
            )
        if found is None:
            raise Unauthenticated(
                f"JWT signed with a key the issuer does not publish (kid {kid!r})"
            )
        return found

    def _find(self, kid: str | None) -> IssuerKey | None:
        if kid is None and len(self._keys) == 1:  # no kid: fine while the issuer has one key
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self, decided_at: float, *, force: bool = False) -> None:
        """Fetch, unless another request did since ``decided_at`` (or, after a failure, less
        than 5 s ago): concurrent requests share one fetch."""
        async with self._lock:
            if self._tried_at >= decided_at:
                return
            if not force and decided_at - self._tried_at < RETRY_SECONDS:
                return
            self._tried_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as http:
                    answer = await http.get(self.url)
                answer.raise_for_status()
                keys = _parse_jwks(answer.json())
            except (httpx.HTTPError, ValueError) as exc:
                # Keys already held stay in use; with none, key() answers 503.
                log.warning("could not fetch the JWKS from %s: %s", self.url, exc)
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            self.fetches += 1


def _parse_jwks(document: Any) -> dict[str | None, IssuerKey]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document (no keys list)")
    keys: dict[str | None, IssuerKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC", "OKP"):
            continue  # an "oct" (shared secret) key has no place in a public JWKS
        try:
            keys[entry.get("kid")] = IssuerKey(jwt.PyJWK(entry), entry.get("alg"))
        except jwt.PyJWTError as exc:
            log.warning("JWKS key %r skipped: %s", entry.get("kid"), exc)
    return keys


class JwtAuthenticator:
    mode = "oauth2"

    def __init__(self, settings: Any, resources: ResourcesOf) -> None:
        check_algorithms(settings.oauth2_algorithms)
        self.issuer: str = settings.oauth2_issuer_url
        self.audience: str = settings.oauth2_audience
        self.algorithms: list[str] = list(settings.oauth2_algorithms)
        url = settings.oauth2_jwks_url or f"{self.issuer.rstrip('/')}/.well-known/jwks.json"
        self.jwks = Jwks(url, cache_seconds=settings.oauth2_jwks_cache_seconds)
        self.namespaces_claim: str = settings.oauth2_namespaces_claim
        self.user_claim: str = settings.oauth2_user_claim
        self.role_claim: str = settings.oauth2_role_claim
        self.failures = FailureLog(resources)

    async def authenticate(self, authorization: str | None) -> Principal:
        credential = None
        try:
            credential = bearer(authorization)
            claims = await self.verify(credential)
            return self.principal(claims)
        except Unauthenticated as exc:
            await self.failures.refused(exc.detail, None, self.mode)
            raise

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed JWT: its header cannot be read") from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise Unauthenticated("JWT refused: unsigned (alg none)")
        if alg not in self.algorithms:
            raise Unauthenticated(
                f"JWT refused: algorithm {alg} is not accepted ({', '.join(self.algorithms)})"
            )
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        if key.jwk.key_type != KEY_TYPES[alg] or key.alg not in (None, alg):
            raise Unauthenticated(f"JWT refused: key {kid!r} is not a key for {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("JWT expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("JWT from another issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("JWT for another audience") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("JWT signature does not verify") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"JWT lacks the {exc.claim!r} claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("JWT not valid yet (nbf or iat in the future)") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid JWT ({type(exc).__name__})") from exc
        return claims

    def principal(self, claims: dict[str, Any]) -> Principal:
        raw = claims.get(self.namespaces_claim)
        if isinstance(raw, str):
            raw = raw.split()
        if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
            raise Unauthenticated(
                f"JWT has no namespaces: the {self.namespaces_claim!r} claim must list them"
            )
        user = claims.get(self.user_claim)
        if user is not None and not isinstance(user, str):
            raise Unauthenticated(f"JWT claim {self.user_claim!r} must be a string")
        role = _role(claims.get(self.role_claim))
        try:
            validate_scope(raw, role, user)
        except InvalidInput as exc:
            raise Unauthenticated(f"JWT scope refused: {exc.detail}") from exc
        return Principal(
            subject=f"jwt:{claims['sub']}",
            namespaces=tuple(dict.fromkeys(raw)),
            user_id=user,
            role=role,
            via="jwt",
        )


def _role(value: Any) -> Role:
    """The highest known role the claim names (a string or a list); ``read`` otherwise."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    known = [name for name in names if name in ROLES]
    return cast(Role, max(known, key=ROLES.index)) if known else "read"
