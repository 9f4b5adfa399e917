"""``remem reindex``: re-embed every long-term memory with the configured model, rewrite the
words keyword search reads, and rebuild the index for its vector size. Run it after changing the
embedding model or upgrading from a remem whose memories lack ``search_terms``; documents are
kept. Memories still in the JSON layout of earlier versions are first converted to hashes
(``maintenance.convert``)."""

from __future__ import annotations

import time

from remem.config import Settings
from remem.maintenance.convert import convert_long_term
from remem.memory.search import search_terms
from remem.progress import report
from remem.runtime import Resources
from remem.store.longterm.layout import vector_bytes
from remem.store.schema import drop_index_versions, ensure_long_term_index


async def run_reindex(settings: Settings, *, batch: int = 256) -> int:
    """Re-embed all memories; return how many were re-embedded."""
    async with Resources(settings, ensure_indexes=False) as res:
        redis, keys, name = res.redis, res.keys, settings.long_term_memory_index
        await convert_long_term(redis, keys, batch=batch, progress=report)
        await drop_index_versions(redis, keys, name)  # every version; the memories stay
        done = 0
        cursor = 0
        next_report = time.monotonic() + 2.0
        while True:
            cursor, found = await redis.scan(
                cursor, match=f"{keys.memory_prefix}*", count=batch, _type="hash"
            )
            if found:
                pipe = redis.pipeline(transaction=False)
                for key in found:
                    pipe.hmget(key, "text", "search_text")
                rows = await pipe.execute()
                docs = [(k, r) for k, r in zip(found, rows, strict=True) if r[0] is not None]
                vectors = await res.embedder.embed_batch([values[0] for _, values in docs])
                pipe = redis.pipeline(transaction=False)
                for (key, (text, search_text)), vector in zip(docs, vectors, strict=True):
                    terms = search_terms(text, search_text)
                    pipe.hset(
                        key, mapping={"embedding": vector_bytes(vector), "search_terms": terms}
                    )
                await pipe.execute()
                done += len(docs)
                if time.monotonic() > next_report:  # progress on long runs; the result below
                    next_report = time.monotonic() + 2.0
                    report(f"re-embedded {done:,} memories so far")
            if cursor == 0:
                break
        await ensure_long_term_index(redis, keys, name, res.embedder.dimensions)
        report.end()
        print(
            f"reindex: {done:,} memories re-embedded with {res.embedder.name} "
            f"({res.embedder.dimensions} dimensions)"
        )
        return done
