"""``remem reindex``: re-embed every long-term memory with the configured model, rewrite the
words keyword search reads, and rebuild the index for its vector size. Run it after changing the
embedding model or upgrading from a remem whose memories lack ``search_terms``; documents are
kept. Memories still in the JSON layout of earlier versions are first converted to hashes
(``store.longterm.convert``)."""

from __future__ import annotations

import time

from remem.config import Settings
from remem.memory.words import search_terms
from remem.progress import report
from remem.runtime import Resources
from remem.store.index_admin import drop_index_versions
from remem.store.longterm.convert import convert_long_term, reembed_all
from remem.store.schema import ensure_long_term_index


async def run_reindex(settings: Settings, *, batch: int = 256) -> int:
    """Re-embed all memories; return how many were re-embedded."""
    async with Resources(settings, ensure_indexes=False) as res:
        redis, keys, name = res.redis, res.keys, settings.long_term_memory_index
        await convert_long_term(redis, keys, batch=batch, progress=report)
        await drop_index_versions(redis, keys, name)  # every version; the memories stay
        next_report = time.monotonic() + 2.0

        def show(done: int) -> None:  # progress on long runs; the result below
            nonlocal next_report
            if time.monotonic() > next_report:
                next_report = time.monotonic() + 2.0
                report(f"re-embedded {done:,} memories so far")

        done = await reembed_all(
            redis, keys, res.embedder.embed_batch, search_terms, batch=batch, progress=show
        )
        await ensure_long_term_index(redis, keys, name, res.embedder.dimensions)
        report.end()
        print(
            f"reindex: {done:,} memories re-embedded with {res.embedder.name} "
            f"({res.embedder.dimensions} dimensions)"
        )
        return done
