"""OAuth2 mode: JWTs checked against a JWKS served over real HTTP by the test (an issuer of its
own, with RSA keys made here), through the app served over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI, Response

from remem.api.app import create_app
from remem.auth.oauth2 import JwtAuthenticator
from remem.config import Settings
from remem.errors import BackendUnavailable, Unauthenticated
from tests.serving import served

ISSUER = "https://issuer.test/"
AUDIENCE = "remem-api"
SESSIONS = "/v1/working-memory/"


@dataclass
class Issuer:
    """Signing keys by kid, and the JWKS app that publishes the public halves."""

    keys: dict[str, Any] = field(default_factory=dict)
    fetches: int = 0
    down: bool = False

    def add(self, kid: str, key: Any = None) -> Any:
        self.keys[kid] = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.keys[kid]

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": out}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/jwks.json")
        async def jwks() -> Response:
            self.fetches += 1
            if self.down:
                return Response(status_code=503)
            return Response(json.dumps(self.jwks()), media_type="application/json")

        return app

    def token(self, kid: str = "k1", *, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "agent-7", "iat": now, "exp": now + 300,
                "namespaces": ["acme/*"], "role": "write", **claims}  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture
async def issuer() -> AsyncIterator[tuple[Issuer, str]]:
    found = Issuer()
    found.add("k1")
    async with served(found.app()) as url:  # type: ignore[arg-type]
        yield found, f"{url}/jwks.json"


@pytest.fixture
def jwt_settings(settings: Settings, issuer: tuple[Issuer, str]) -> Settings:
    return settings.model_copy(
        update={
            "auth_mode": "oauth2",
            "oauth2_issuer_url": ISSUER,
            "oauth2_audience": AUDIENCE,
            "oauth2_jwks_url": issuer[1],
        }
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(issuer: Issuer, claims: dict[str, Any]) -> str:
    """The key-confusion forgery: HS256 keyed with the issuer's public key (PEM), which
    anyone can fetch from the JWKS."""
    pem = (
        issuer.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = b64(json.dumps(claims).encode())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 300,
            "namespaces": ["*"], "role": "admin", **changes}  # fmt: skip


async def test_a_valid_jwt_is_served_and_carries_its_scope(
    jwt_settings: Settings, issuer: tuple[Issuer, str]
) -> None:
    found, _ = issuer
    async with served(create_app(jwt_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get(SESSIONS, headers={"Authorization": f"Bearer {found.token()}"})
        assert answer.status_code == 200, answer.text
    principal = JwtAuthenticator(jwt_settings, lambda: None).principal(
        jwt.decode(
            found.token(user_id="ada", role=["read", "admin"]), options={"verify_signature": False}
        )
    )
    assert (principal.subject, principal.namespaces, principal.user_id, principal.role) == (
        "jwt:agent-7",
        ("acme/*",),
        "ada",
        "admin",
    )
    assert principal.via == "jwt"


FORGERIES = {
    "wrong key": (lambda i: i.token(key=Issuer().add("k1")), "JWT signature does not verify"),
    "wrong issuer": (lambda i: i.token(iss="https://evil.test/"), "JWT from another issuer"),
    "wrong audience": (lambda i: i.token(aud="another-api"), "JWT for another audience"),
    "no audience": (lambda i: i.token(aud=None), "lacks the 'aud' claim"),
    "alg none": (lambda i: unsigned(claims()), "unsigned (alg none)"),
    "expired": (lambda i: i.token(exp=int(time.time()) - 120), "JWT expired"),
    "no expiry": (lambda i: i.token(exp=None), "lacks the 'exp' claim"),
    "hs256 confusion": (lambda i: hs256_with_public_key(i, claims()),
                        "algorithm HS256 is not accepted"),
    "unknown kid": (lambda i: i.token(kid="k9", key=i.keys["k1"]), "kid 'k9'"),
    "no namespaces": (lambda i: i.token(namespaces=None), "JWT has no namespaces"),
    "bad namespace": (lambda i: i.token(namespaces=["a*b"]), "JWT scope refused"),
    "garbage": (lambda i: "not.a.jwt", "malformed JWT"),
    "an api token": (lambda i: "rmm_0123456789ab_" + "x" * 43, "malformed JWT"),
}  # fmt: skip


async def test_forged_or_unfit_jwts_get_401_saying_why(
    jwt_settings: Settings, issuer: tuple[Issuer, str]
) -> None:
    found, _ = issuer
    app = create_app(jwt_settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        for name, (make, reason) in FORGERIES.items():
            answer = await http.get(SESSIONS, headers={"Authorization": f"Bearer {make(found)}"})
            assert answer.status_code == 401, name
            assert reason in answer.json()["detail"], (name, answer.json())
            assert answer.headers["www-authenticate"] == "Bearer"
        audited = await app.state.resources.audit.entries(100)
    assert sum(e["action"] == "auth.failure" for e in audited) == len(FORGERIES)


async def test_a_jwt_of_a_rotated_key_fetches_the_jwks_again_but_not_for_every_bad_kid(
    jwt_settings: Settings, issuer: tuple[Issuer, str]
) -> None:
    found, _ = issuer
    auth = JwtAuthenticator(jwt_settings, lambda: None)
    await auth.verify(found.token())
    await auth.verify(found.token())
    assert found.fetches == 1  # cached
    found.add("k2")  # the issuer rotates
    assert (await auth.verify(found.token("k2")))["sub"] == "agent-7"
    assert found.fetches == 2
    for _ in range(20):  # made-up kids: one fetch at most per 30 s, not one per token
        with pytest.raises(Unauthenticated, match="does not publish"):
            await auth.verify(found.token("k3", key=found.keys["k1"]))
    assert found.fetches == 2


async def test_keys_of_another_type_than_the_algorithm_are_refused(
    jwt_settings: Settings, issuer: tuple[Issuer, str]
) -> None:
    found, _ = issuer
    settings = jwt_settings.model_copy(update={"oauth2_algorithms": ["RS256", "ES256"]})
    auth = JwtAuthenticator(settings, lambda: None)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Unauthenticated, match="not a key for ES256"):
        await auth.verify(found.token("k1", key=ec_key, alg="ES256"))


async def test_an_unreachable_issuer_is_503_not_401(
    jwt_settings: Settings, issuer: tuple[Issuer, str]
) -> None:
    found, _ = issuer
    found.down = True
    auth = JwtAuthenticator(jwt_settings, lambda: None)
    with pytest.raises(BackendUnavailable, match="could not be fetched"):
        await auth.verify(found.token())
    async with served(create_app(jwt_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get(SESSIONS, headers={"Authorization": f"Bearer {found.token()}"})
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        found.down = False  # keys held from now on survive the issuer's outages
        await asyncio.sleep(5.1)  # a failed fetch is retried after 5 s
        ok = await http.get(SESSIONS, headers={"Authorization": f"Bearer {found.token()}"})
        assert ok.status_code == 200, ok.text
