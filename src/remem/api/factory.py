"""An app built from the environment, for uvicorn's ``--factory`` (one per worker process)."""

from __future__ import annotations

from fastapi import FastAPI

from remem.api.app import create_app
from remem.config import Settings


def app_from_env() -> FastAPI:
    return create_app(Settings())
