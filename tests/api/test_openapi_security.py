"""The OpenAPI document declares how to authenticate, so /docs has an Authorize button and "Try
it out" sends the token: the bearer API token in token mode, a JWT in oauth2 mode, nothing with
auth disabled; every route but the open ones requires the scheme."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from remem.api.app import create_app
from remem.api.authenticate import OPEN_PATHS
from remem.config import Settings
from tests.auth.test_token_mode import create_token
from tests.serving import served


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def assert_every_guarded_route_requires(document: dict[str, Any], scheme: str) -> None:
    found = operations(document)
    assert len(found) >= 20
    for method, path, operation in found:
        if path in OPEN_PATHS:
            assert "security" not in operation, (method, path)
        else:
            assert operation.get("security") == [{scheme: []}], (method, path)


def test_token_mode_declares_the_bearer_api_token(settings: Settings) -> None:
    document = create_app(settings.model_copy(update={"auth_mode": "token"})).openapi()
    scheme = document["components"]["securitySchemes"]["APIToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "remem token create" in scheme["description"]
    assert_every_guarded_route_requires(document, "APIToken")
    assert "security" not in document["paths"]["/v1/health"]["get"]


def test_oauth2_mode_declares_a_jwt_bearer(settings: Settings) -> None:
    oauth2 = {
        "auth_mode": "oauth2",
        "oauth2_issuer_url": "https://issuer.example",
        "oauth2_audience": "remem-api",
    }
    document = create_app(settings.model_copy(update=oauth2)).openapi()
    scheme = document["components"]["securitySchemes"]["JWT"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert (
        "https://issuer.example" in scheme["description"] and "remem-api" in scheme["description"]
    )
    assert_every_guarded_route_requires(document, "JWT")


def test_with_auth_disabled_nothing_is_required(settings: Settings) -> None:
    document = create_app(settings).openapi()
    assert "securitySchemes" not in document.get("components", {})
    assert all("security" not in operation for _, _, operation in operations(document))


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
async def test_what_authorize_sends_is_what_the_server_takes(settings: Settings, path: str) -> None:
    """Swagger UI, authorised with an http bearer scheme, sends ``Authorization: Bearer <value>``
    with each "Try it out": the served document says so, and a token sent that way is taken
    where none is refused."""
    token_settings = settings.model_copy(update={"auth_mode": "token"})
    token = create_token(token_settings, "--namespace", "n")
    async with served(create_app(token_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get(path)).status_code == 200  # open, without credentials
        served_document = (await http.get("/openapi.json")).json()
        assert served_document["components"]["securitySchemes"]["APIToken"]["scheme"] == "bearer"
        listing = "/v1/working-memory/"
        assert (await http.get(listing)).status_code == 401
        authorised = await http.get(listing, headers={"Authorization": f"Bearer {token}"})
        assert authorised.status_code == 200, authorised.text
