"""``remem doctor``: is this setup able to serve, and if not, what to do about it. Each check
prints one line, ``ok`` or ``FAIL`` with the fix; the exit code is the number of failures
(0: healthy). Nothing is written."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from remem.config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def diagnose(settings: Settings) -> list[Check]:
    from remem.errors import RememError
    from remem.llm.status import build_llm, llm_target
    from remem.runtime import Resources
    from remem.store.connection import connect

    checks: list[Check] = []
    async with contextlib.AsyncExitStack() as stack:
        if settings.redis_url:
            url = settings.redis_url
        else:  # the embedded Redis, started (or found running) as every command does
            resources = Resources(settings, ensure_indexes=False)
            try:
                await stack.enter_async_context(resources)
            except RememError as exc:
                return [Check("embedded Redis", False, f"{exc.detail} (see REMEM_DATA_DIR)")]
            url = resources.redis_url
        redis = connect(url, timeout=settings.redis_timeout_seconds, max_connections=4)
        stack.push_async_callback(redis.aclose)
        if not await _store(redis, url, settings, checks):
            return checks
    target, why_not = llm_target(settings)
    if target is None:
        checks.append(Check("LLM", True, f"off ({why_not}); everything else works without it"))
    else:
        llm = build_llm(settings)
        assert llm is not None
        try:
            problem = await llm.problem()
        finally:
            await llm.aclose()
        detail = problem or f"{target.model} at {target.base_url} answers"
        checks.append(Check("LLM", problem is None, detail))
    return checks


async def _store(redis: Any, url: str, settings: Settings, checks: list[Check]) -> bool:
    """Redis, its modules, the embedding model and the indexes; False when the rest of the
    checks cannot run."""
    from remem.errors import RememError
    from remem.runtime import build_embedder_from
    from remem.store.connection import check_modules
    from remem.store.keys import Keys
    from remem.store.schema import (
        check_vector_dims,
        document_count,
        long_term_memory_index,
        working_memory_index,
    )

    try:
        versions = await check_modules(redis)
    except RememError as exc:
        fix = "" if "module" in exc.detail.lower() else f"; is Redis running at {url}?"
        checks.append(Check("Redis", False, exc.detail.rstrip(".") + fix))
        return False
    checks.append(Check("Redis", True, ", ".join(f"{k} {v}" for k, v in versions.items())))
    try:
        embedder = await build_embedder_from(settings)
        await embedder.warm_up()
        dims = embedder.dimensions
        checks.append(Check("embedding model", True, f"{embedder.name}, {dims} dimensions"))
    except RememError as exc:
        checks.append(Check("embedding model", False, exc.detail))
        return False
    keys = Keys(settings.key_prefix)
    spec = long_term_memory_index(keys, settings.long_term_memory_index, dims)
    try:
        await check_vector_dims(redis, keys, spec, dims)
        count = await document_count(redis, spec.name)
        state = "not built yet" if count is None else f"{count:,} memories"
        checks.append(Check("long-term index", True, f"{spec.name}: {state}"))
    except RememError as exc:
        checks.append(Check("long-term index", False, exc.detail))
    wm = working_memory_index(keys, settings.working_memory_index)
    sessions = await document_count(redis, wm.name)
    state = "not built yet" if sessions is None else f"{sessions:,} sessions"
    checks.append(Check("working-memory index", True, f"{wm.name}: {state}"))
    return True
