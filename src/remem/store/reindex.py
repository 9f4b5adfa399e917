"""``remem reindex``: re-embed every long-term memory with the configured model and rebuild the
index for its vector size. Run it after changing the embedding model; documents are kept."""

from __future__ import annotations

import contextlib
import json
import sys

from redis.exceptions import ResponseError

from remem.config import Settings
from remem.runtime import Resources
from remem.store.schema import ensure_long_term_index


async def run_reindex(settings: Settings, *, batch: int = 256) -> int:
    """Re-embed all memories; return how many were re-embedded."""
    async with Resources(settings, ensure_indexes=False) as res:
        redis, keys, name = res.redis, res.keys, settings.long_term_memory_index
        stale = keys.index_name(name, "")
        for index in await redis.execute_command("FT._LIST"):
            if index.startswith(stale):  # every version; the documents stay
                with contextlib.suppress(ResponseError):
                    await redis.execute_command("FT.DROPINDEX", index)
        done = 0
        cursor = 0
        while True:
            cursor, found = await redis.scan(
                cursor, match=f"{keys.memory_prefix}*", count=batch, _type="ReJSON-RL"
            )
            if found:
                texts = await redis.execute_command("JSON.MGET", *found, "$.text")
                pairs = [(k, json.loads(t)[0]) for k, t in zip(found, texts, strict=True) if t]
                vectors = await res.embedder.embed_batch([text for _, text in pairs])
                pipe = redis.pipeline(transaction=False)
                for (key, _), vector in zip(pairs, vectors, strict=True):
                    pipe.execute_command(
                        "JSON.SET", key, "$.embedding", json.dumps(vector.tolist())
                    )
                await pipe.execute()
                done += len(pairs)
                print(f"re-embedded {done:,} memories", file=sys.stderr)
            if cursor == 0:
                break
        await ensure_long_term_index(redis, keys, name, res.embedder.dimensions)
        print(
            f"reindex: {done:,} memories re-embedded with {res.embedder.name} "
            f"({res.embedder.dimensions} dimensions)"
        )
        return done
