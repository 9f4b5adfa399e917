"""Long-term memory over HTTP: bulk ingest rate, search latency and throughput per mode, beside
raw FT.SEARCH with a precomputed vector on the same Redis.

    python bench/long_term.py [--sizes 10000 100000] [--searches 200] [--throughput 1000]
                              [--workers 1] [--corpus narrow|natural] [--quick]

Starts ``remem serve`` (the default bundled embedding model, embedded Redis in a fresh data
directory) and, growing the store to each size in ``--sizes`` with the memories of ``--corpus``
(``narrow``: a few words in every memory, the worst case for keyword search; ``natural``: words
as frequent as in real text, see ``Natural``):

- ingest: ``POST /v1/long-term-memory/`` with 256 memories a request and 2 requests in flight
  (``deduplicate`` off: the memories are distinct; a create is searchable when it returns).
  Memories/s end to end, beside the embedding model alone on the same texts in this process;
- search at concurrency 1: p50/p95 per mode (semantic, keyword, hybrid; limit 10, namespace
  filter, recency boost on: the server's defaults), query embedding included; beside a raw
  ``FT.SEARCH ... (@namespace:{bench})=>[KNN 10 ...]`` with a vector computed beforehand, and the
  query embedding alone;
- search at concurrency 16: searches/s and p50/p95 per mode;
- semantic and hybrid search right after a write (one new memory, not timed), so the server
  cannot use the filter count it keeps between searches: p50/p95, ``total`` checked to include
  the new memory (the cell's ops/s counts the writes too); the memories are deleted afterwards;
- Redis memory: ``used_memory``, and its growth since the empty store divided by the memories
  stored (bytes a memory, index included).

Each search answer is checked (status 200, ``total`` equal to the memories stored); a failed
check is reported and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import CellResult, CpuMeter, LeanClient, run_cell
from _server import Server

from remem.embeddings.static import StaticEmbedder
from remem.memory.words import STOP_WORDS
from remem.store.longterm.layout import vector_bytes

NS = "bench"
INDEX = "long_term_memory_idx"
MODES = ("semantic", "keyword", "hybrid")
BATCH, IN_FLIGHT = 256, 2

SUBJECTS = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi"]
VERBS = ["likes", "visited", "is learning", "bought", "cooked", "read about", "wants", "fixed"]
OBJECTS = [
    "green tea",
    "Lisbon",
    "the violin",
    "a red bicycle",
    "spicy ramen",
    "black holes",
    "a new laptop",
    "the garden fence",
    "Python typing",
    "jazz records",
    "a sailboat",
]
TARGETS = {  # (what, size): (bound, ">=" or "<=")
    ("search p95 ms", 10_000): (10.0, "<="),
    ("search p95 ms", 100_000): (25.0, "<="),
    ("searches/s c16", 10_000): (400.0, ">="),
    ("ingest/s", 0): (1000.0, ">="),
}


class Narrow:
    """The worst case for keyword search: 8 names, 8 verbs and 11 objects, so the words of a
    question are in about 45% of the memories and BM25 scores nearly half the store."""

    name = "narrow"

    def text(self, i: int) -> str:
        rng = random.Random(i)
        return (
            f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
            f"on day {i % 365} ({rng.choice(OBJECTS)})"
        )

    def question(self, rng: random.Random, size: int) -> str:
        return f"what does {rng.choice(SUBJECTS)} like about {rng.choice(OBJECTS)}?"


class Natural:
    """Words as often as in real text: ten a memory, drawn from a Zipf law (s = 1) over the
    English words of the bundled tokenizer's vocabulary in a fixed shuffled order, leaving out
    the 100 most frequent ranks (a language's function words, which keyword search drops).
    The most frequent word left is in about 2% of the memories. A question is three words of a
    stored memory and one more drawn from the same law."""

    name = "natural"
    WORDS_PER_TEXT, SKIPPED_RANKS = 10, 100

    def __init__(self) -> None:
        vocab = json.loads(
            (resources.files("remem.embeddings") / "assets" / "minilm-tokenizer.json").read_text()
        )["model"]["vocab"]
        words = sorted(w for w in vocab if w.isascii() and w.isalpha() and len(w) > 2)
        words = [w for w in words if w not in STOP_WORDS]
        random.Random(0).shuffle(words)
        self.words = words
        ranks = np.arange(1, len(words) + 1) + self.SKIPPED_RANKS
        self.cdf = np.cumsum(1.0 / ranks)
        self.cdf /= self.cdf[-1]

    def _draw(self, rng: random.Random, n: int) -> list[str]:
        picks = np.searchsorted(self.cdf, [rng.random() for _ in range(n)])
        return [self.words[min(int(k), len(self.words) - 1)] for k in picks]

    def text(self, i: int) -> str:
        return " ".join(self._draw(random.Random(i), self.WORDS_PER_TEXT))

    def question(self, rng: random.Random, size: int) -> str:
        stored = self.text(rng.randrange(size)).split()
        return " ".join([*rng.sample(stored, 3), *self._draw(rng, 1)])


CORPORA = {c.name: c for c in (Narrow, Natural)}


def memory(corpus: Narrow | Natural, i: int) -> dict[str, Any]:
    return {
        "id": f"m{i}",
        "text": corpus.text(i),
        "namespace": NS,
        "user_id": f"u{i % 50}",
        "topics": [OBJECTS[i % len(OBJECTS)]],
    }


async def ingest(http: LeanClient, corpus: Narrow | Natural, start: int, stop: int) -> float:
    """Store memories start..stop-1; memories/s."""
    bodies = [
        http.prepare(
            "POST",
            "/v1/long-term-memory/",
            json.dumps(
                {
                    "memories": [memory(corpus, i) for i in range(b, min(stop, b + BATCH))],
                    "deduplicate": False,
                }
            ).encode(),
        )
        for b in range(start, stop, BATCH)
    ]
    failures: list[str] = []

    async def post(i: int) -> bool:
        status, body = await http.send(bodies[i])
        if status != 200:
            failures.append(f"{status} {body[:200]!r}")
        return status == 200

    cell = await run_cell("ingest", post, len(bodies), IN_FLIGHT)
    if failures:
        raise RuntimeError(f"ingest failed: {failures[:3]}")
    return (stop - start) / cell.seconds


async def search_cells(
    http: LeanClient,
    questions: list[str],
    size: int,
    concurrency: int,
    n: int,
    meter: CpuMeter,
    problems: list[str],
) -> dict[str, CellResult]:
    out = {}
    for mode in MODES:
        requests = [
            http.prepare(
                "POST",
                "/v1/long-term-memory/search",
                json.dumps(
                    {"text": q, "search_mode": mode, "namespace": {"eq": NS}, "limit": 10}
                ).encode(),
            )
            for q in questions
        ]

        async def search(i: int, requests: list[Any] = requests, mode: str = mode) -> bool:
            status, body = await http.send(requests[i % len(requests)])
            if status != 200:
                problems.append(f"{mode}: HTTP {status} {body[:200]!r}")
                return False
            reply = json.loads(body)
            # Every memory matches a semantic search; a keyword search matches one at least.
            total, hits = reply["total"], len(reply["memories"])
            if hits != min(10, total) or (total != size if mode != "keyword" else total < 1):
                problems.append(f"{mode}: total {reply['total']}, {len(reply['memories'])} hits")
                return False
            return True

        cell = await run_cell(
            f"{mode} c{concurrency}", search, n, concurrency, warmup=20, meter=meter
        )
        out[mode] = cell
        print(f"  {cell.line()}")
    return out


async def search_after_writes(
    http: LeanClient, questions: list[str], size: int, n: int, problems: list[str]
) -> dict[str, CellResult]:
    """Semantic and hybrid search, each right after a write to the store (one new memory), so
    the server's kept filter count no longer holds and the search counts again. Only the search
    is timed; its ``total`` must include the memory just written. The memories are deleted
    afterwards."""
    out = {}
    for mode in ("semantic", "hybrid"):
        latencies: list[float] = []
        written: list[str] = []
        started = time.perf_counter()
        for i in range(n):
            memory_id = f"w{size}-{mode}-{i}"
            body = {"memories": [{"id": memory_id, "text": questions[i % len(questions)],
                                  "namespace": NS}], "deduplicate": False}  # fmt: skip
            status, raw = await http.send(
                http.prepare("POST", "/v1/long-term-memory/", json.dumps(body).encode())
            )
            if status != 200:
                problems.append(f"write before search: HTTP {status} {raw[:200]!r}")
                break
            written.append(memory_id)
            query = {"text": questions[i % len(questions)], "search_mode": mode,
                     "namespace": {"eq": NS}, "limit": 10}  # fmt: skip
            request = http.prepare(
                "POST", "/v1/long-term-memory/search", json.dumps(query).encode()
            )
            t0 = time.perf_counter()
            status, raw = await http.send(request)
            latencies.append(time.perf_counter() - t0)
            total = json.loads(raw)["total"] if status == 200 else None
            if total != size + len(written):
                expected = size + len(written)
                problems.append(f"{mode} after a write: total {total}, {expected} stored")
        target = "/v1/long-term-memory?" + "&".join(f"memory_ids={w}" for w in written)
        status, raw = await http.send(http.prepare("DELETE", target))
        if status != 200 or json.loads(raw)["status"] != f"ok, deleted {len(written)} memories":
            problems.append(f"cleanup after writes: HTTP {status} {raw[:200]!r}")
        cell = CellResult(
            f"{mode} c1 after a write", 1, len(latencies), time.perf_counter() - started,
            sorted(latencies),
        )  # fmt: skip
        out[mode] = cell
        print(f"  {cell.line()}")
    return out


async def raw_knn(redis: Redis, index: str, vectors: np.ndarray) -> CellResult:
    async def knn(i: int) -> bool:
        reply = await redis.execute_command(
            "FT.SEARCH",
            index,
            "(@namespace:{bench})=>[KNN 10 @embedding $v AS dist]",
            "PARAMS", 2, "v", vector_bytes(vectors[i % len(vectors)]),  # the index's type
            "SORTBY", "dist", "RETURN", 1, "dist", "LIMIT", 0, 10, "DIALECT", 2,
        )  # fmt: skip
        return len(reply["results"]) == 10

    cell = await run_cell("raw FT.SEARCH KNN 10", knn, len(vectors), 1, warmup=20)
    print(f"  {cell.line()}")
    return cell


async def embed_alone(
    model: StaticEmbedder, texts: list[str], questions: list[str]
) -> tuple[float, CellResult]:
    started = time.perf_counter()
    for b in range(0, len(texts), BATCH):
        await model.embed_batch(texts[b : b + BATCH])
    rate = len(texts) / (time.perf_counter() - started)

    async def one(i: int) -> bool:
        await model.embed_batch([questions[i % len(questions)]])
        return True

    cell = await run_cell("query embedding alone", one, 200, 1, warmup=10)
    print(f"  embedding alone: {rate:,.0f} texts/s (batches of {BATCH}); {cell.line()}")
    return rate, cell


def verdict(value: float, bound: float, sense: str) -> str:
    ok = value >= bound if sense == ">=" else value <= bound
    return f"{'met' if ok else 'MISS'} ({sense} {bound:g})"


async def main(args: argparse.Namespace) -> int:
    corpus = CORPORA[args.corpus]()
    model = StaticEmbedder()  # the server's default model, run here for the reference rows
    await model.warm_up()
    server = Server(args.workers)
    print(f"== remem serve --workers {args.workers}, {corpus.name} corpus ==")
    print(f"   data {server.data_dir}")
    server.start(timeout=180)
    http = LeanClient("127.0.0.1", server.port)
    redis = Redis.from_url(server.redis_url, protocol=3, decode_responses=True)
    meter = CpuMeter({"server": server.server_pids(), "redis": [server.redis_pid]})
    problems: list[str] = []
    rows: list[str] = []
    try:
        index = INDEX  # the alias the server searches through
        stored = 0
        empty = int((await redis.info("memory"))["used_memory"])
        ingest_rates: list[float] = []
        for size in args.sizes:
            print(f"-- growing to {size:,} memories")
            rate = await ingest(http, corpus, stored, size)
            ingest_rates.append(rate)
            stored = size
            print(f"  ingest: {rate:,.0f} memories/s over HTTP")
            rng = random.Random(size)
            questions = [corpus.question(rng, size) for _ in range(args.searches)]
            sample = [corpus.text(i) for i in range(stored - min(size, 2048), stored)]
            embed_rate, embed_cell = await embed_alone(model, sample, questions)
            vectors = await model.embed_batch(questions)
            raw = await raw_knn(redis, index, vectors)
            c1 = await search_cells(http, questions, size, 1, len(questions), meter, problems)
            c16 = await search_cells(http, questions, size, 16, args.throughput, meter, problems)
            fresh = await search_after_writes(http, questions, size, args.searches // 2, problems)
            info = await redis.info("memory")
            per_memory = (int(info["used_memory"]) - empty) / size
            print(f"  Redis memory: {info['used_memory_human']}, {per_memory:,.0f} bytes a memory")
            rows.append(
                f"| {size:,} | {rate:,.0f} | {embed_rate:,.0f} | "
                + " | ".join(f"{c1[m].p50_ms:.1f} / {c1[m].p95_ms:.1f}" for m in MODES)
                + f" | {raw.p50_ms:.2f} / {raw.p95_ms:.2f}"
                + f" | {embed_cell.p50_ms:.1f} / {embed_cell.p95_ms:.1f} | "
                + " | ".join(f"{c16[m].ops:,.0f}" for m in MODES)
                + " | "
                + " | ".join(f"{fresh[m].p50_ms:.1f} / {fresh[m].p95_ms:.1f}" for m in fresh)
                + f" | {info['used_memory_human']} | {per_memory:,.0f} |"
            )
            for m in MODES:
                if (key := ("search p95 ms", size)) in TARGETS:
                    print(
                        f"  {m} p95 {c1[m].p95_ms:.1f} ms: {verdict(c1[m].p95_ms, *TARGETS[key])}"
                    )
                if (key := ("searches/s c16", size)) in TARGETS:
                    print(f"  {m} c16 {c16[m].ops:,.0f}/s: {verdict(c16[m].ops, *TARGETS[key])}")
    finally:
        await http.close()
        await redis.aclose()
        server.stop()
    print(
        "\n| memories | ingest /s (HTTP) | embedding alone texts/s | "
        + " | ".join(f"{m} p50 / p95 ms" for m in MODES)
        + " | raw KNN p50 / p95 ms | query embedding p50 / p95 ms | "
        + " | ".join(f"{m} /s c16" for m in MODES)
        + " | semantic after a write p50 / p95 ms | hybrid after a write p50 / p95 ms"
        + " | Redis memory | bytes / memory |"
    )
    print("|" + "--:|" * (8 + 2 * len(MODES)) + "--:|")
    print("\n".join(rows))
    print(f"\ningest: {verdict(min(ingest_rates), *TARGETS[('ingest/s', 0)])}")
    for p in problems[:10]:
        print(f"CHECK FAILED: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--throughput", type=int, default=1000, help="searches per c16 cell")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--corpus", choices=sorted(CORPORA), default="narrow", help="memory texts and questions"
    )
    parser.add_argument("--quick", action="store_true", help="sizes 2,000; 100 searches")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.searches, args.throughput = [2_000], 100, 300
    sys.exit(asyncio.run(main(args)))
