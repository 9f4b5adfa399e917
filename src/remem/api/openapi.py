"""The OpenAPI document's security: the scheme a request authenticates with, and which routes
need it, so ``/docs`` shows an Authorize button that fills in ``Authorization: Bearer ...``
for "Try it out".

Authentication is a middleware (``remem.api.authenticate``), not a dependency of each route,
so FastAPI cannot see it: the document says it here. A route outside ``OPEN_PATHS`` needs the
scheme; with auth disabled there is none, and no route names one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from remem.api.authenticate import OPEN_PATHS
from remem.auth.authenticate import Authenticator


def security_schemes(authenticator: Authenticator) -> dict[str, dict[str, Any]]:
    """The scheme of ``authenticator``'s mode, by the name the document gives it."""
    mode = getattr(authenticator, "mode", "disabled")
    if mode == "token":
        return {
            "APIToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A remem API token (rmm_..., from `remem token create`)",
            }
        }
    if mode == "oauth2":
        issuer = getattr(authenticator, "issuer", "the issuer")
        audience = getattr(authenticator, "audience", "remem")
        return {
            "JWT": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": f"An access token (a JWT) issued by {issuer} for {audience}",
            }
        }
    return {}


def declare_security(app: FastAPI, authenticator: Authenticator) -> None:
    """Have ``app``'s OpenAPI document declare ``authenticator``'s scheme and every route but
    the open ones require it."""
    schemes = security_schemes(authenticator)
    if not schemes:
        return
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = plain()  # FastAPI keeps it as app.openapi_schema: changed in place
            document.setdefault("components", {})["securitySchemes"] = schemes
            required: list[dict[str, list[str]]] = [{name: []} for name in schemes]
            for path, operations in document["paths"].items():
                for operation in operations.values() if path not in OPEN_PATHS else ():
                    operation["security"] = required
        return app.openapi_schema  # type: ignore[return-value]  # set by plain()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way
