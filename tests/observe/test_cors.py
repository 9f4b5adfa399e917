"""CORS (REMEM_CORS_ORIGINS): off by default; on, the listed origins get their preflights
answered without a token (auth on), and refusals they can read; other origins get nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import ValidationError

from remem.app import build_app
from remem.auth.modes import check_auth_settings
from remem.config import Settings
from remem.errors import InvalidInput
from tests.cli.test_data_commands import remem
from tests.serving import free_port

PAGE = "https://app.example"
PREFLIGHT = {
    "Origin": PAGE,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, x-request-id",
}
SEARCH = "/v1/long-term-memory/search"


@asynccontextmanager
async def app_client(settings: Settings, **update: object) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings.model_copy(update=update))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http


async def test_off_by_default_no_answer_carries_cors_headers(settings: Settings) -> None:
    assert Settings.model_fields["cors_origins"].default == []
    async with app_client(settings) as http:
        answers = [
            await http.get("/v1/health", headers={"Origin": PAGE}),
            await http.options(SEARCH, headers=PREFLIGHT),
        ]
    for r in answers:
        assert not any(name.startswith("access-control-") for name in r.headers), r.headers


async def test_a_listed_origins_preflight_is_answered_without_a_token(settings: Settings) -> None:
    async with app_client(settings, auth_mode="token", cors_origins=[PAGE]) as http:
        preflight = await http.options(SEARCH, headers=PREFLIGHT)
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == PAGE
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-request-id"} <= set(allowed.split(", "))
        assert "access-control-allow-credentials" not in preflight.headers
        assert preflight.headers["x-content-type-options"] == "nosniff"  # security headers too
        # The request itself, without a token: refused, and the page can read why.
        refused = await http.post(SEARCH, json={"text": "x"}, headers={"Origin": PAGE})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == PAGE
        exposed = refused.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed
        assert "x-request-id" in refused.headers


async def test_another_origin_gets_no_cors_headers(settings: Settings) -> None:
    async with app_client(settings, auth_mode="token", cors_origins=[PAGE]) as http:
        other = {**PREFLIGHT, "Origin": "https://evil.example"}
        preflight = await http.options(SEARCH, headers=other)
        refused = await http.post(SEARCH, json={}, headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 400 and refused.status_code == 401
    for r in (preflight, refused):
        assert "access-control-allow-origin" not in r.headers


async def test_any_origin_with_auth_on_never_with_credentials(settings: Settings) -> None:
    async with app_client(settings, auth_mode="token", cors_origins=["*"]) as http:
        preflight = await http.options(SEARCH, headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


def test_any_origin_with_auth_disabled_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="every web page"):
        check_auth_settings(settings.model_copy(update={"cors_origins": ["*"]}))
    check_auth_settings(settings.model_copy(update={"cors_origins": [PAGE]}))  # exact: allowed
    done = remem(settings, "serve", "--port", str(free_port()), check=False,
                 REMEM_CORS_ORIGINS='["*"]')  # fmt: skip
    assert done.returncode == 1 and "every web page a browser opens" in done.stderr, done.stderr


@pytest.mark.parametrize("origin", ["https://app.example/", "app.example", "https://a/path", ""])
def test_what_is_not_an_origin_is_refused(origin: str) -> None:
    """A browser's Origin never has a path or a trailing slash: such an entry matches nothing."""
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=[origin])
