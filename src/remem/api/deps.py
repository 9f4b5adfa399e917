"""FastAPI dependencies: the services, taken from the app's Resources.

They are ``async`` on purpose: FastAPI runs plain ``def`` dependencies in a thread pool, which
costs a thread hop on every request.
"""

from __future__ import annotations

from fastapi import Request

from remem.background.summary_views import SummaryViews
from remem.memory.longterm import LongTermMemoryService
from remem.memory.working import WorkingMemoryService
from remem.runtime import Resources


async def resources(request: Request) -> Resources:
    res: Resources = request.app.state.resources
    return res


async def working_memory(request: Request) -> WorkingMemoryService:
    res: Resources = request.app.state.resources
    return res.working


async def long_term_memory(request: Request) -> LongTermMemoryService:
    res: Resources = request.app.state.resources
    return res.long_term


async def summary_views(request: Request) -> SummaryViews:
    res: Resources = request.app.state.resources
    return res.summary_views
