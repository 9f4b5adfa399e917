"""FastAPI dependencies: the services, taken from the app's Resources."""

from __future__ import annotations

from fastapi import Request

from remem.memory.working import WorkingMemoryService
from remem.runtime import Resources


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


def working_memory(request: Request) -> WorkingMemoryService:
    return resources(request).working
