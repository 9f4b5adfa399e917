"""``remem reindex``: re-embed every long-term memory with the configured model, rewrite the
words keyword search reads, and rebuild the index for its vector size. Run it after changing the
embedding model or upgrading from a remem whose memories lack ``search_terms``; documents are
kept."""

from __future__ import annotations

import contextlib
import json
import sys
import time

from redis.exceptions import ResponseError

from remem.config import Settings
from remem.memory.longterm import stored_vector
from remem.memory.search import index_terms
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
        next_report = time.monotonic() + 2.0
        while True:
            cursor, found = await redis.scan(
                cursor, match=f"{keys.memory_prefix}*", count=batch, _type="ReJSON-RL"
            )
            if found:
                rows = await redis.execute_command("JSON.MGET", *found, "$['text','search_text']")
                docs = [(k, json.loads(r)) for k, r in zip(found, rows, strict=True) if r]
                docs = [(k, values) for k, values in docs if values]
                vectors = await res.embedder.embed_batch([values[0] for _, values in docs])
                pipe = redis.pipeline(transaction=False)
                for (key, values), vector in zip(docs, vectors, strict=True):
                    keyword_text = values[1] if len(values) > 1 and values[1] else values[0]
                    pipe.execute_command(
                        "JSON.MSET",
                        key, "$.embedding", json.dumps(stored_vector(vector)),
                        key, "$.search_terms", json.dumps(index_terms(keyword_text)),
                    )  # fmt: skip
                await pipe.execute()
                done += len(docs)
                if time.monotonic() > next_report:  # progress on long runs; the result below
                    next_report = time.monotonic() + 2.0
                    print(f"re-embedded {done:,} memories so far", file=sys.stderr)
            if cursor == 0:
                break
        await ensure_long_term_index(redis, keys, name, res.embedder.dimensions)
        print(
            f"reindex: {done:,} memories re-embedded with {res.embedder.name} "
            f"({res.embedder.dimensions} dimensions)"
        )
        return done
