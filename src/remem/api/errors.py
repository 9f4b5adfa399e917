"""The one place where core errors become HTTP answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from remem.errors import BackendUnavailable, RememError


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RememError)
    async def _remem_error(request: Request, exc: RememError) -> JSONResponse:
        headers = None
        if isinstance(exc, BackendUnavailable):  # retryable: say when to come back
            headers = {"Retry-After": str(exc.retry_after_seconds)}
        return JSONResponse(
            status_code=exc.status,
            content={"detail": exc.detail, "code": exc.code},
            headers=headers,
        )
