"""What remem asks the Query Engine about an index by name, outside building one
(``store.schema``): what it is, how many documents it holds, and dropping it."""

from __future__ import annotations

import contextlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from remem.store.coordinator import index_holders
from remem.store.keys import Keys


async def index_info(redis: Redis, name: str) -> dict[str, Any] | None:
    """``FT.INFO`` of the index or alias ``name``; None when there is none."""
    try:
        info: dict[str, Any] = await redis.execute_command("FT.INFO", name)
    except ResponseError as exc:
        if "unknown index" in str(exc).lower() or "no such index" in str(exc).lower():
            return None
        raise
    return info


async def index_source(redis: Redis, name: str) -> tuple[str, list[str]] | None:
    """(real name, key prefixes) of the index or alias ``name``; None when there is none."""
    info = await index_info(redis, name)
    if info is None:
        return None
    return info["index_name"], list(info["index_definition"]["prefixes"])


async def document_count(redis: Redis, name: str) -> int | None:
    """How many documents the index (or alias) ``name`` holds; None when there is none."""
    info = await index_info(redis, name)
    return None if info is None else int(info["num_docs"])


async def drop_index(redis: Redis, name: str) -> None:
    """Drop the index ``name``; its documents are kept."""
    await redis.execute_command("FT.DROPINDEX", name)


async def drop_index_versions(redis: Redis, keys: Keys, name: str) -> None:
    """Drop every version of the index ``name`` (documents are kept); on a cluster, every
    primary's (``connection.index_holders``)."""
    stale = keys.index_name(name, "")
    for where in index_holders(redis):
        for index in await redis.execute_command("FT._LIST", **where):
            if index.startswith(stale):
                # Refused when another process dropped it first, or when it is named in a
                # slot its primary gave away (docs/architecture.md, "Slots that move").
                with contextlib.suppress(ResponseError):
                    await redis.execute_command("FT.DROPINDEX", index, **where)
