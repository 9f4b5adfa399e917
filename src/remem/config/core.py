"""The core settings: Redis, limits, embeddings, the LLM, tasks and forgetting (the
``Settings`` of ``remem.config`` adds authentication and observability)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

import platformdirs
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("remem", appauthor=False))


class CoreSettings(BaseSettings):
    """Where remem keeps data and how it serves, remembers and works in the background."""

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_REDIS_URL", "REDIS_URL", "redis_url"),
        description="Redis to use (Redis 8, Redis Stack 7.4+ or managed Redis with Search 2.10+ "
        "and JSON). "
        "Unset: remem starts an embedded Redis in the data directory.",
    )
    tasks_redis_url: str | None = Field(
        default=None,
        description="A single Redis of its own for the task queue (pydocket), whose scripts "
        "name keys of several hash slots and so cannot run on a Redis Cluster; the due set "
        "stays with the sessions. Required when REDIS_URL names a node of a Redis Cluster. "
        "Unset: the task queue shares REDIS_URL's Redis.",
    )
    cluster_coordinator: Literal["auto", "yes", "no"] = Field(
        default="auto",
        description="Whether the Query Engine of the Redis Cluster REDIS_URL names has a "
        "coordinator (one index over every primary: Redis 8 in cluster mode, Redis Software "
        "and Cloud). `auto`: asked of every primary at start-up (`COMMAND GETKEYS`); `yes` or "
        "`no` where an ACL refuses that question. Ignored for a single Redis.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Redis keeps its data (AOF) and its address.",
    )
    host: str = Field(default="127.0.0.1", description="Address `remem serve` listens on.")
    port: int = Field(default=8000, description="Port `remem serve` listens on.")
    key_prefix: str = Field(
        default="remem:",
        description="Prefix of every key remem writes, so several apps can share one Redis.",
    )
    working_memory_index: str = Field(
        default="working_memory_idx",
        description="Name (an alias of the versioned index) of the session index.",
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, description="Largest request body accepted (413 above it)."
    )
    max_messages_per_write: int = Field(
        default=10_000,
        ge=1,
        description="Most messages one session write (PUT or append) may carry (413 above).",
    )
    max_text_chars: int = Field(
        default=100_000,
        ge=1,
        description="Longest text (a message's content, a memory's text or search_text, a "
        "search query) in characters (413 above).",
    )
    max_memories_per_request: int = Field(
        default=1_000,
        ge=1,
        description="Most memories one request may create, or one session write may carry "
        "(413 above).",
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Requests a caller (by its principal) may make a minute, shared by every "
        "process through Redis; over it, 429 with Retry-After. 0: no limit.",
    )
    redis_timeout_seconds: float = Field(
        default=5.0, description="Socket timeout for Redis commands."
    )
    redis_max_connections: int = Field(
        default=64,
        description="Connection pool size per process, for each of its two pools (RESP3 for "
        "documents, RESP2 for the hot searches, whose flat replies parse faster).",
    )
    summarization_threshold: float = Field(
        default=0.7,
        description="Share of the context window at which a session counts as due for "
        "summarisation (drives context_percentage_until_summarization).",
    )
    mcp_default_namespace: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_MCP_DEFAULT_NAMESPACE", "DEFAULT_MCP_NAMESPACE", "mcp_default_namespace"
        ),
        description="Namespace of MCP tools called without one (and without /{namespace}/mcp); "
        "also read from the upstream server's DEFAULT_MCP_NAMESPACE.",
    )
    mcp_default_user_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_MCP_DEFAULT_USER_ID", "DEFAULT_MCP_USER_ID", "mcp_default_user_id"
        ),
        description="User of memories and sessions MCP tools write without one; also read "
        "from DEFAULT_MCP_USER_ID.",
    )
    long_term_memory_index: str = Field(
        default="long_term_memory_idx",
        description="Name (an alias of the versioned index) of the long-term memory index.",
    )
    embedding_provider: Literal["local", "openai"] = Field(
        default="local",
        description="`local`: a bundled model, in-process, no network (see REMEM_LOCAL_MODEL). "
        "`openai`: any OpenAI-compatible /embeddings endpoint.",
    )
    local_model: Literal["static", "minilm"] = Field(
        default="static",
        description="`static`: all-MiniLM-L6-v2 distilled to a token table (256 dims, "
        "thousands of texts/s). `minilm`: the transformer itself (int8 ONNX, 384 dims, about "
        "300 texts/s; needs `pip install 'remem[minilm]'`).",
    )
    embedding_model: str = Field(
        default="text-embedding-3-small", description="Model name sent to the OpenAI provider."
    )
    embedding_base_url: str = Field(
        default="https://api.openai.com/v1",
        validation_alias=AliasChoices(
            "REMEM_EMBEDDING_BASE_URL", "OPENAI_BASE_URL", "embedding_base_url"
        ),
        description="Base URL of the OpenAI-compatible provider (also OPENAI_BASE_URL).",
    )
    embedding_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_EMBEDDING_API_KEY", "OPENAI_API_KEY", "embedding_api_key"
        ),
        description="API key of the OpenAI-compatible provider (also OPENAI_API_KEY).",
    )
    embedding_dimensions: int | None = Field(
        default=None,
        description="Vector size for the OpenAI provider (asked of the provider when unset).",
    )
    embedding_threads: int = Field(
        default=2, description="CPU threads of the `minilm` local model."
    )
    access_flush_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often search hits are written to last_accessed / access_count (added "
        "up in the process first).",
    )
    access_resolution_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Search hits move a memory's last_accessed only once it is this much older "
        "than the hit (the upstream server's 15 minutes): moving it re-indexes the memory, "
        "vector included (about 1 ms). access_count counts every hit, kept beside the memory.",
    )
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_LLM_BASE_URL", "OPENAI_API_BASE", "llm_base_url"),
        description="Base URL of an OpenAI-compatible chat completions API (also "
        "OPENAI_API_BASE), e.g. `http://localhost:11434/v1` for Ollama. Unset with a key set: "
        "OpenAI's. Unset with no key: no LLM (see /v1/health).",
    )
    llm_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="API key of the LLM (also OPENAI_API_KEY). Local servers need none.",
    )
    llm_model: str | None = Field(
        default=None,
        description="Chat model of the LLM. Unset: `gpt-4o-mini` on OpenAI; required with "
        "REMEM_LLM_BASE_URL.",
    )
    llm_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Timeout of one LLM request."
    )
    llm_max_retries: int = Field(
        default=3,
        ge=0,
        description="Retries of an LLM request answered 408/409/429/5xx or failed to connect, "
        "with exponential backoff from 0.5 s, or after the server's Retry-After when it sends one.",
    )
    query_optimization_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for the LLM's rewrite of a search that asks `optimize_query` "
        "(retries included); past it the text is searched as given.",
    )

    run_worker: bool = Field(
        default=True,
        description="`remem serve` runs background tasks (promotion, extraction) in-process. "
        "`false` (`remem serve --no-worker`) leaves them to `remem worker` processes.",
    )
    worker_concurrency: int = Field(
        default=4, ge=1, description="Tasks one worker process runs at once."
    )
    task_redelivery_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A task whose worker died (stopped renewing its claim) is handed to "
        "another worker after this long.",
    )
    extract_messages: bool = Field(
        default=True,
        description="Turn working-memory messages into long-term memories in the background: "
        "with an LLM, the facts it extracts; without one, one memory per message (about 4.7 KB "
        "of Redis and 360 µs of its CPU each, `bench/background.py`). `false`: messages stay "
        "in working memory only, as with the Agent Memory Server's defaults; long-term "
        "memories then come from explicit creates and a session's `memories`.",
    )
    extraction_debounce_seconds: float = Field(
        default=3.0,
        ge=0,
        description="Messages are extracted into long-term memory once their session has had "
        "no write for this long (a trailing debounce per session).",
    )
    extraction_max_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        description="The longest later writes may hold back a session's extraction (and "
        "summarisation): a session written more often than the debounce is still extracted at "
        "least this often. 0: no limit (a pure trailing debounce).",
    )
    task_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often each worker looks for due background work. A write only marks "
        "its session due (a sorted set, in the write's own script); workers schedule it, so "
        "work starts up to this much after it is due.",
    )
    compaction_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Compact long-term memory (merge copies of the same text, and with an LLM "
        "similar memories) every this many seconds, one run at a time across all workers. A "
        "run reads every memory, as POST /v1/long-term-memory/compact without a namespace does: "
        "on a large store, hours. 0: never.",
    )
    forgetting_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Apply the forgetting policy below every this many seconds, one run at a "
        "time across all workers. 0: never. Needs one of REMEM_FORGETTING_MAX_AGE_DAYS, "
        "REMEM_FORGETTING_MAX_INACTIVE_DAYS, REMEM_FORGETTING_BUDGET.",
    )
    summary_view_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Summarise again every partition of each summary view created with "
        "`continuous: true` every this many seconds, one run at a time across all workers (the "
        "upstream server's SUMMARY_VIEW_REFRESH_EVERY_MINUTES, an hour). With an LLM, a call "
        "per partition. 0: never.",
    )
    summary_view_refresh_every_minutes: int | None = Field(
        default=None,
        gt=0,
        validation_alias=AliasChoices(
            "REMEM_SUMMARY_VIEW_REFRESH_EVERY_MINUTES",
            "SUMMARY_VIEW_REFRESH_EVERY_MINUTES",
            "summary_view_refresh_every_minutes",
        ),
        description="The upstream server's SUMMARY_VIEW_REFRESH_EVERY_MINUTES, read so its "
        "deployments keep their interval: used when REMEM_SUMMARY_VIEW_REFRESH_SECONDS is not "
        "set.",
    )
    forgetting_max_age_days: float | None = Field(
        default=None,
        ge=0,
        description="Periodic forgetting: delete memories created longer ago than this.",
    )
    forgetting_max_inactive_days: float | None = Field(
        default=None,
        ge=0,
        description="Periodic forgetting: delete memories not accessed for this long (with "
        "max_age_days too: both must hold, or the age pass max_age_days x "
        "REMEM_FORGETTING_HARD_AGE_MULTIPLIER).",
    )
    forgetting_hard_age_multiplier: float = Field(
        default=12.0, ge=0, description="Periodic forgetting: see max_inactive_days."
    )
    forgetting_budget: int | None = Field(
        default=None,
        ge=0,
        description="Periodic forgetting: keep at most this many of the memories scanned; the "
        "least recently accessed of the rest go.",
    )
    forgetting_memory_types: list[str] | None = Field(
        default=None,
        description="Periodic forgetting: only memories of these types may go (a JSON list, "
        'e.g. `["episodic","message"]`). Unset: any type. Pinned memories never go.',
    )
    forgetting_scan_limit: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Periodic forgetting: memories judged per run, oldest first (the policy of "
        "POST /v1/long-term-memory/forget with this limit, over all namespaces).",
    )

    @property
    def coordinator(self) -> bool | None:
        """``cluster_coordinator`` as ``open_redis`` takes it: None to ask."""
        return {"auto": None, "yes": True, "no": False}[self.cluster_coordinator]

    @model_validator(mode="after")
    def _upstream_refresh_interval(self) -> Self:
        minutes = self.summary_view_refresh_every_minutes
        if minutes is not None and "summary_view_refresh_seconds" not in self.model_fields_set:
            self.summary_view_refresh_seconds = minutes * 60.0
        return self

    @model_validator(mode="after")
    def _forgetting_has_a_policy(self) -> Self:
        if self.forgetting_interval_seconds > 0 and (
            self.forgetting_max_age_days is None
            and self.forgetting_max_inactive_days is None
            and self.forgetting_budget is None
        ):
            raise ValueError(
                "REMEM_FORGETTING_INTERVAL_SECONDS needs a policy: set "
                "REMEM_FORGETTING_MAX_AGE_DAYS, REMEM_FORGETTING_MAX_INACTIVE_DAYS or "
                "REMEM_FORGETTING_BUDGET"
            )
        return self
