"""The one place where core errors become HTTP answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from remem.errors import RememError


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RememError)
    async def _remem_error(request: Request, exc: RememError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status, content={"detail": exc.detail, "code": exc.code}
        )
