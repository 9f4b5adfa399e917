"""Rewriting every long-term memory in place: ``reembed_all`` (``remem reindex``: new vectors
and keyword words), and ``convert_long_term``, from remem's JSON layout (one RedisJSON
document per memory, the vector as JSON numbers: about 10 KB a memory) to its HASH layout
(``store.longterm.layout``: under 3 KB). Run by ``remem migrate`` and ``remem reindex``;
``remem serve`` refuses to start on a store in the old layout (``store.schema.check_vector_dims``)
rather than convert at start-up: converting 100,000 memories rewrites every key and rebuilds the
index, which a server should not start doing by surprise, nor several server processes at once.

Each memory's conversion is atomic (a script: still JSON? then delete and write the hash), so
a run can be stopped and run again; keys are listed before any is converted.

On a Redis Cluster (``Keys.cluster``: memories ``mem:{<ns>}:<id>`` over every primary) keys are
listed from every primary, documents read one ``JSON.GET`` each (a ``JSON.MGET`` would name
several slots), the script loaded on every primary first (a cluster pipeline sends only its
SHA), and each converted namespace's own token replaced.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from redis.asyncio import Redis

from remem.store.keys import Keys
from remem.store.longterm.layout import encode, flat, vector_bytes

# KEYS[1]: a memory; ARGV: its hash fields, name and value in turn. 1 = converted, 0 = no longer
# a JSON document (converted or deleted meanwhile).
_CONVERT = """
if redis.call('TYPE', KEYS[1]).ok ~= 'ReJSON-RL' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


async def json_memories(redis: Redis, keys: Keys, batch: int) -> list[str]:
    """Keys of the long-term memories still in the JSON layout."""
    scan = redis.scan_iter(match=f"{keys.memory_prefix}*", count=batch, _type="ReJSON-RL")
    return list(dict.fromkeys([str(k) async for k in scan]))


async def convert_long_term(
    redis: Redis,
    keys: Keys,
    *,
    batch: int = 500,
    dry_run: bool = False,
    progress: Callable[[str], None] = print,
) -> tuple[int, dict[str, str]]:
    """Convert every JSON-layout memory to a hash: (how many, {key: why skipped})."""
    found = await json_memories(redis, keys, batch)
    if dry_run or not found:
        return len(found), {}
    convert = redis.register_script(_CONVERT)
    if keys.cluster:
        await redis.script_load(_CONVERT)  # every primary
    done, skipped = 0, {}
    for start in range(0, len(found), batch):
        chunk = found[start : start + batch]
        raws = await _json_documents(redis, keys, chunk)
        async with redis.pipeline(transaction=False) as pipe:
            queued = []
            for key, raw in zip(chunk, raws, strict=True):
                docs = json.loads(raw) if raw else []
                doc = docs[0] if docs else None
                if not isinstance(doc, dict) or not doc:
                    if raw:
                        skipped[key] = "not a JSON object"
                    continue
                await convert(keys=[key], args=flat(encode(doc)), client=pipe)
                queued.append(key)
            for token in _tokens(keys, queued):  # kept counts are stale
                pipe.set(token, secrets.token_hex(8))
            replies = await pipe.execute()
        done += sum(int(r) for r in replies[: len(queued)])
        progress(f"converted {min(start + batch, len(found)):,} / {len(found):,} memories")
    return done, skipped


async def _json_documents(redis: Redis, keys: Keys, chunk: list[str]) -> list[Any]:
    """``JSON.GET <key> $`` of each key: one ``JSON.MGET`` on a single Redis, one ``JSON.GET``
    each on a cluster (pipelined, each to its slot)."""
    if not keys.cluster:
        return list(await redis.execute_command("JSON.MGET", *chunk, "$"))
    async with redis.pipeline(transaction=False) as pipe:
        for key in chunk:
            pipe.execute_command("JSON.GET", key, "$")
        return list(await pipe.execute())


def _tokens(keys: Keys, converted: list[str]) -> list[str]:
    """The generation tokens a conversion of ``converted`` replaces: the one token on a single
    Redis (even for none), each converted memory's namespace's on a cluster."""
    if not keys.cluster:
        return [keys.long_term_generation]
    return list(dict.fromkeys(keys.long_term_generation_of(key) for key in converted))


async def _hash_batches(redis: Redis, keys: Keys, batch: int) -> AsyncIterator[list[Any]]:
    """The keys of the memories in the hash layout, a SCAN batch at a time (from every primary
    on a cluster)."""
    match = f"{keys.memory_prefix}*"
    if keys.cluster:
        found: list[Any] = []
        async for key in redis.scan_iter(match=match, count=batch, _type="hash"):
            found.append(key)
            if len(found) >= batch:
                yield found
                found = []
        if found:
            yield found
        return
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=match, count=batch, _type="hash")
        if found:
            yield found
        if cursor == 0:
            return


async def reembed_all(
    redis: Redis,
    keys: Keys,
    embed: Callable[[Sequence[str]], Awaitable[np.ndarray]],
    terms: Callable[[str, str | None], str],
    *,
    batch: int = 256,
    progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Give every long-term memory (hash layout) the vector ``embed`` makes of its text and the
    keyword words ``terms`` makes of its text and ``search_text``, a SCAN batch at a time;
    how many were rewritten (``progress`` hears the count after each batch)."""
    done = 0
    async for found in _hash_batches(redis, keys, batch):
        async with redis.pipeline(transaction=False) as pipe:
            for key in found:
                pipe.hmget(key, "text", "search_text")
            rows = await pipe.execute()
        docs = [(k, r) for k, r in zip(found, rows, strict=True) if r[0] is not None]
        vectors = await embed([values[0] for _, values in docs])
        async with redis.pipeline(transaction=False) as pipe:
            for (key, (text, search_text)), vector in zip(docs, vectors, strict=True):
                fields = {
                    "embedding": vector_bytes(vector),
                    "search_terms": terms(text, search_text),
                }
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            await pipe.execute()
        done += len(docs)
        progress(done)
    return done
