"""The composition root: ``Resources`` owns Redis (embedded or not) and builds the services that
REST, MCP, CLI and workers share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from types import TracebackType
from typing import Any

from docket import Worker
from redis.asyncio import Redis

from remem import metrics, tracing
from remem.auth.audit import AuditLog
from remem.background.extraction import Extraction, VerbatimExtractor
from remem.background.llm_extraction import LLMExtractor
from remem.background.periodic import Maintenance, forget_policy
from remem.background.promotion import Promoter
from remem.background.summarization import LLMSummarizer, Summarization, TrimNote
from remem.background.summary_views import SummaryViews
from remem.background.view_summarizers import Digest, LLMViewSummary
from remem.config import Settings
from remem.embeddings import Embedder, build_embedder, dedup_distance_of, judge_distance_of
from remem.embeddings.observed import Observed
from remem.errors import IncompatibleBackend
from remem.foreground import Foreground
from remem.llm.client import LLMClient
from remem.llm.status import build_llm
from remem.memory.limits import Limits
from remem.memory.llm_judge import llm_judge
from remem.memory.longterm import LongTermMemoryService
from remem.memory.query_rewrite import QueryRewriter
from remem.memory.working import WorkingMemoryService
from remem.store.connection import check_modules, is_cluster, open_redis
from remem.store.embedded import EmbeddedRedis
from remem.store.keys import Keys
from remem.store.longterm import LongTermStore
from remem.store.longterm.backfill import backfill_attribute_tags
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.store.supervisor import Supervisor
from remem.store.views import ViewStore
from remem.store.working import WorkingMemoryStore
from remem.tasks.jobs import Lifecycle
from remem.tasks.queue import TaskQueue
from remem.tasks.worker import running_worker

log = logging.getLogger(__name__)

# On a Redis Cluster (detected by store.connection.open_redis) the keys are named for it
# (Keys(cluster=True)) and the task queue needs a single Redis of its own
# (docs/architecture.md, "Redis Cluster").
CLUSTER_NEEDS_TASKS_REDIS = (
    "REDIS_URL names a node of a Redis Cluster ({} primaries): set REMEM_TASKS_REDIS_URL to a "
    "single Redis for the task queue, since pydocket's scripts name keys of several hash slots, "
    "which a cluster refuses (CROSSSLOT)"
)


class Resources:
    """``async with Resources(settings) as res:`` gives a ready Redis and the services."""

    redis: Redis
    working: WorkingMemoryService
    long_term: LongTermMemoryService
    embedder: Embedder
    llm: LLMClient | None = None  # None: no LLM configured (see remem.llm.status)
    tasks: TaskQueue
    lifecycle: Lifecycle
    summary_views: SummaryViews

    def __init__(
        self,
        settings: Settings,
        *,
        ensure_indexes: bool = True,
        foreground: Foreground | None = None,
    ) -> None:
        """``foreground``: the requests of a serving process, which its tasks let go first."""
        self.settings = settings
        self.foreground = foreground or Foreground(serving=False)
        self.keys = Keys(settings.key_prefix)
        self.embedded: EmbeddedRedis | None = None
        self._supervisor: Supervisor | None = None
        self.versions: dict[str, Any] = {}
        self._ensure_indexes = ensure_indexes
        self._tasks_redis: Redis | None = None  # REMEM_TASKS_REDIS_URL's, when set

    @property
    def redis_url(self) -> str:
        if self.settings.redis_url:
            return self.settings.redis_url
        assert self.embedded is not None and self.embedded.url
        return self.embedded.url

    async def __aenter__(self) -> Resources:
        if not self.settings.redis_url:
            self.embedded = EmbeddedRedis(self.settings.data_dir)
            await asyncio.to_thread(self.embedded.acquire)
            self._supervisor = Supervisor(self.embedded)  # restarts it if it dies
            self._supervisor.start()
        try:
            self.redis = await open_redis(
                self.redis_url,
                timeout=self.settings.redis_timeout_seconds,
                max_connections=self.settings.redis_max_connections,
                coordinator=self.settings.coordinator,
            )
            self.versions = await check_modules(self.redis)
            if is_cluster(self.redis):
                self._on_cluster()
            self.audit = AuditLog(self.redis, self.keys)
            limits = Limits(
                messages_per_write=self.settings.max_messages_per_write,
                text_chars=self.settings.max_text_chars,
                memories_per_request=self.settings.max_memories_per_request,
            )
            store = await self._working_memory(limits)
            self.embedder = Observed(await build_embedder_from(self.settings))
            self.llm = build_llm(self.settings)
            await self._long_term_memory(limits)
            self.tasks = await self._task_queue()
            await self.tasks.__aenter__()
            self._lifecycle(store)
        except BaseException:
            await self._close()
            raise
        return self

    def _on_cluster(self) -> None:
        """REDIS_URL names a cluster node: keys named for a cluster (each script and MULTI
        within one slot), and the task queue's single Redis required."""
        if not self.settings.tasks_redis_url:
            raise IncompatibleBackend(CLUSTER_NEEDS_TASKS_REDIS.format(self.versions["primaries"]))
        self.keys = Keys(self.settings.key_prefix, cluster=True)

    async def _task_queue(self) -> TaskQueue:
        """One Docket for the process, scheduled by its worker's poller (tasks.poller), in
        the Redis of REMEM_TASKS_REDIS_URL when set: a single Redis, since pydocket's scripts
        name keys of several slots (refused by a Redis Cluster with CROSSSLOT)."""
        url = self.settings.tasks_redis_url
        if url:
            self._tasks_redis = await open_redis(  # refused below if a cluster
                url, timeout=self.settings.redis_timeout_seconds, max_connections=4,
                coordinator=False,
            )  # fmt: skip
            if is_cluster(self._tasks_redis):
                raise IncompatibleBackend(
                    "REMEM_TASKS_REDIS_URL names a node of a Redis Cluster; the task queue "
                    "(pydocket) needs a single Redis: its scripts name keys of several slots"
                )
        debounce = self.settings.extraction_debounce_seconds
        return TaskQueue(url or self.redis_url, self.keys, debounce, self.redis, self._tasks_redis)

    async def _working_memory(self, limits: Limits) -> WorkingMemoryStore:
        """The working-memory service (and its index); the store it writes through."""
        spec = working_memory_index(self.keys, self.settings.working_memory_index)
        if self._ensure_indexes:
            await ensure_index(self.redis, self.keys, spec)
        store = WorkingMemoryStore(self.redis, self.keys, spec.name)
        threshold = self.settings.summarization_threshold
        self.working = WorkingMemoryService(store, threshold, limits=limits)
        # Writes mark their session due in the due set; workers' pollers schedule it.
        self.working.debounce_seconds = self.settings.extraction_debounce_seconds
        self.working.max_wait_seconds = self.settings.extraction_max_wait_seconds or None
        self.working.extract = self.settings.extract_messages
        return store

    async def _long_term_memory(self, limits: Limits) -> None:
        """The long-term service (and its index), with the LLM's judge and query rewriter when
        there is one: a semantic search's text is rewritten with ``optimize_query``."""
        name = self.settings.long_term_memory_index
        rewriter = None
        if self.llm is not None:
            timeout = self.settings.query_optimization_timeout_seconds
            rewriter = QueryRewriter(self.llm, timeout=timeout)
        if self._ensure_indexes:
            await ensure_long_term_index(self.redis, self.keys, name, self.embedder.dimensions)
        self.long_term = LongTermMemoryService(
            LongTermStore(self.redis, self.keys, name),
            self.embedder,
            access_flush_seconds=self.settings.access_flush_seconds,
            access_resolution_seconds=self.settings.access_resolution_seconds,
            dedup_candidate_distance=judge_distance_of(self.embedder)
            if self.llm is not None
            else dedup_distance_of(self.embedder),
            merge_judge=llm_judge(self.llm) if self.llm is not None else None,
            limits=limits,
            query_rewriter=rewriter,
        )
        if self._ensure_indexes:  # once: memories written before attribute_tags get them
            await backfill_attribute_tags(self.long_term.store)
        await self.long_term.start()

    def _lifecycle(self, store: WorkingMemoryStore) -> None:
        """What the background tasks work with: with an LLM, one chat completion per batch
        extracts and summarises; without, verbatim episodic memories and trimmed notes."""
        llm = self.llm
        extractor = LLMExtractor(llm) if llm is not None else VerbatimExtractor()
        self.lifecycle = Lifecycle(
            Promoter(store, self.long_term),
            Extraction(store, self.long_term, extractor, self.foreground),
        )
        self.lifecycle.summarization = Summarization(
            store,
            TrimNote() if llm is None else LLMSummarizer(llm),
            self.settings.summarization_threshold,
            after_extraction=self.settings.extract_messages,
        )
        self.lifecycle.extract_again = self.tasks.extract_again
        self.lifecycle.failures = self.tasks.failures
        # Partition summaries: one LLM call a partition (chunked), or the digest without.
        self.summary_views = SummaryViews(
            ViewStore(self.redis, self.keys),
            self.long_term.store,
            Digest() if llm is None else LLMViewSummary(llm),
            schedule=self.tasks.refresh_view,
        )
        self.lifecycle.summary_views = self.summary_views
        self.lifecycle.maintenance = Maintenance(
            self.long_term, forget_policy(self.settings), self.settings.forgetting_scan_limit
        )

    def worker(self) -> contextlib.AbstractAsyncContextManager[Worker]:
        """A worker running this process's tasks while the block lasts (``tasks.worker``)."""
        return running_worker(self.settings, self.tasks, self.lifecycle, self.working.store.due)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        try:
            if hasattr(self, "tasks"):
                await self.tasks.__aexit__(None, None, None)
            if hasattr(self, "long_term"):
                if self.long_term.query_rewriter is not None:
                    await self.long_term.query_rewriter.aclose()
                await self.long_term.close()
            if hasattr(self, "embedder"):
                await self.embedder.aclose()
            if self.llm is not None:
                await self.llm.aclose()
                self.llm = None
            if self._tasks_redis is not None:
                await self._tasks_redis.aclose()
            if hasattr(self, "redis"):
                await self.redis.aclose()
        finally:  # a failed flush (Redis down for good) must not leave Redis running for ever
            if self._supervisor is not None:  # supervised until here: the flush needs Redis
                await self._supervisor.close()
                self._supervisor = None
            if self.embedded is not None:
                await asyncio.to_thread(self.embedded.release)
                self.embedded = None


async def build_embedder_from(settings: Settings) -> Embedder:
    """The embedder the settings ask for, with its dimension known (asked of the provider)."""
    if settings.embedding_provider == "openai":
        embedder = build_embedder(
            "openai",
            base_url=settings.embedding_base_url,
            api_key=settings.embedding_api_key,
            model=settings.embedding_model,
            dimensions=settings.embedding_dimensions,
        )
        if not settings.embedding_dimensions:
            await embedder.probe_dimensions()  # type: ignore[attr-defined]
        return embedder
    if settings.local_model == "minilm":
        embedder = build_embedder("local", threads=settings.embedding_threads)
    else:
        embedder = build_embedder("static")
    await embedder.warm_up()  # load now: the first request must not pay for it
    return embedder


async def run_worker(settings: Settings) -> None:
    """``remem worker``: run tasks until SIGINT or SIGTERM."""
    tracing.setup(trace_content=settings.trace_content)
    if settings.worker_metrics_port:
        metrics.serve(settings.worker_metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Resources(settings) as res, res.worker():
        log.info("remem worker: running tasks of %s", res.tasks.name)
        await stop.wait()
