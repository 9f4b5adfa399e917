"""``remem doctor``: is this setup able to serve, and if not, what to do about it. Each check
prints one line, ``ok`` or ``FAIL`` with the fix (``skip``: it needs what failed before); the
exit code is the number of failures (0: healthy). Nothing is written.

Each part is checked on its own (Redis, the embedding model, the indexes, the LLM), so a
failing one is named as itself and the others are still checked: an unreachable embedding
provider used to fail as "embedded Redis", since both were started together, and hide the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from remem.config import Settings
from remem.errors import RememError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    skipped: bool = False  # not run: it needs a part that failed (ok is False, not a failure)

    @property
    def failed(self) -> bool:
        return not self.ok and not self.skipped

    def line(self) -> str:
        status = "skip" if self.skipped else "ok  " if self.ok else "FAIL"
        return f"{status} {self.name}: {self.detail}"


async def diagnose(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    async with contextlib.AsyncExitStack() as stack:
        redis = await _redis(settings, stack, checks)
        dims = await _embedder(settings, checks)
        if redis is not None:
            await _indexes(redis, settings, dims, checks)
    checks.append(await _llm(settings))
    checks.append(Check("APIs", True, APIS))
    return checks


# What `remem serve` answers, over the same data (docs/rest-api.md, docs/managed-api.md).
APIS = (
    "Agent Memory Server (/v1/working-memory, /v1/long-term-memory...) and managed Agent "
    "Memory (/v1/stores/{storeId}/..., a store being a namespace), MCP at /mcp"
)


async def _redis(
    settings: Settings, stack: contextlib.AsyncExitStack, checks: list[Check]
) -> Any | None:
    """A client of a Redis that can serve remem (started, if embedded, as every command
    starts it), or None with the failure in ``checks``."""
    from remem.store.connection import check_modules, open_redis

    url = settings.redis_url or await _embedded(settings, stack, checks)
    if url is None:
        return None
    try:
        redis = await open_redis(
            url,
            timeout=settings.redis_timeout_seconds,
            max_connections=4,
            coordinator=settings.coordinator,
        )
    except RememError as exc:
        checks.append(
            Check("Redis", False, f"{exc.detail.rstrip('.')}; is Redis running at {url}?")
        )
        return None
    stack.push_async_callback(redis.aclose)
    try:
        versions = await check_modules(redis)
    except RememError as exc:
        fix = "" if "module" in exc.detail.lower() else f"; is Redis running at {url}?"
        checks.append(Check("Redis", False, exc.detail.rstrip(".") + fix))
        return None
    checks.append(Check("Redis", True, ", ".join(f"{k} {v}" for k, v in versions.items())))
    return redis


async def _embedded(
    settings: Settings, stack: contextlib.AsyncExitStack, checks: list[Check]
) -> str | None:
    from remem.store.embedded import EmbeddedRedis

    server = EmbeddedRedis(settings.data_dir)
    try:
        url = await asyncio.to_thread(server.acquire)
    except (RememError, OSError) as exc:
        detail = exc.detail if isinstance(exc, RememError) else str(exc)
        checks.append(Check("embedded Redis", False, f"{detail} (see REMEM_DATA_DIR)"))
        return None
    stack.push_async_callback(asyncio.to_thread, server.release)
    return url


async def _embedder(settings: Settings, checks: list[Check]) -> int | None:
    """The embedding model's dimensions, or None with the failure in ``checks``."""
    from remem.runtime import build_embedder_from

    try:
        embedder = await build_embedder_from(settings)
    except RememError as exc:
        fix = ""
        if settings.embedding_provider == "openai":
            fix = "; check REMEM_EMBEDDING_BASE_URL and REMEM_EMBEDDING_API_KEY"
        checks.append(Check("embedding model", False, exc.detail.rstrip(".") + fix))
        return None
    try:
        await embedder.warm_up()
        dims = embedder.dimensions
    except RememError as exc:
        checks.append(Check("embedding model", False, exc.detail))
        return None
    finally:
        await embedder.aclose()
    checks.append(Check("embedding model", True, f"{embedder.name}, {dims} dimensions"))
    return dims


async def _indexes(redis: Any, settings: Settings, dims: int | None, checks: list[Check]) -> None:
    from remem.store.index_admin import document_count
    from remem.store.keys import Keys
    from remem.store.schema import check_vector_dims, long_term_memory_index, working_memory_index

    keys = Keys(settings.key_prefix)
    if dims is None:  # the index's name and vectors follow the model's dimensions
        checks.append(Check("long-term index", False, "needs the embedding model", True))
    else:
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


async def _llm(settings: Settings) -> Check:
    """The LLM the settings configure answers; off is fine when nothing asks for one, a
    failure when the settings name a server but not enough to use it."""
    from remem.llm.status import build_llm, llm_problem, llm_target

    target, why_not = llm_target(settings)
    if target is None:
        problem = llm_problem(settings)
        if problem is not None:
            return Check("LLM", False, problem)
        return Check("LLM", True, f"off ({why_not}); everything else works without it")
    llm = build_llm(settings)
    assert llm is not None
    try:
        problem = await llm.problem()
    finally:
        await llm.aclose()
    return Check("LLM", problem is None, problem or f"{target.model} at {target.base_url} answers")
