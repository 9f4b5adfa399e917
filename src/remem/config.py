"""Settings: one object, built at the edge (CLI, app factory, tests) and passed in.

Environment variables use the prefix ``REMEM_``; where the upstream Agent Memory Server has a
variable with the same meaning (``REDIS_URL``), that name is read too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("remem", appauthor=False))


class Settings(BaseSettings):
    """remem configuration. The README's configuration table is generated from these fields."""

    model_config = SettingsConfigDict(env_prefix="REMEM_", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_REDIS_URL", "REDIS_URL", "redis_url"),
        description="Redis to use (Redis 8, Redis Stack 7.4+ or managed Redis with Search 2.10+ "
        "and JSON). "
        "Unset: remem starts an embedded Redis in the data directory.",
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
    log_level: str = Field(default="info", description="Log level of the server.")
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

    @model_validator(mode="after")
    def _forgetting_has_a_policy(self) -> Settings:
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

    # -- authentication (remem.auth; README "Security") ------------------------------------
    auth_mode: Literal["disabled", "token", "oauth2"] = Field(
        default="disabled",
        validation_alias=AliasChoices("REMEM_AUTH_MODE", "AUTH_MODE", "auth_mode"),
        description="`disabled`: every caller is the local admin (loopback binds only, see "
        "REMEM_ALLOW_REMOTE_WITHOUT_AUTH). `token`: API tokens from `remem token create`. "
        "`oauth2`: JWTs signed by the REMEM_OAUTH2_ISSUER_URL's keys. Also read from the "
        "upstream server's AUTH_MODE; `remem serve --auth` sets it.",
    )
    disable_auth: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_DISABLE_AUTH", "DISABLE_AUTH", "disable_auth"),
        description="The upstream server's DISABLE_AUTH, read so its deployments mean the same "
        "here: `true` with an auth mode other than `disabled`, or `false` with no auth mode, "
        "refuses to start (the upstream server would silently run without auth).",
    )
    token_auth_enabled: bool | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_TOKEN_AUTH_ENABLED", "TOKEN_AUTH_ENABLED", "token_auth_enabled"
        ),
        description="The upstream server's TOKEN_AUTH_ENABLED: `true` with no auth mode set "
        "means `token`; with another mode set, it refuses to start.",
    )
    allow_remote_without_auth: bool = Field(
        default=False,
        description="Let `remem serve` listen on a non-loopback address with auth disabled "
        "(anyone who reaches the port is the admin). Off: it refuses to start.",
    )
    token_hash_key: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC-SHA256 under which API tokens are stored (32+ random "
        "bytes, e.g. `openssl rand -hex 32`). Unset: generated once and kept in Redis, so "
        "whoever reads Redis holds both the key and the digests.",
    )
    mcp_token: SecretStr | None = Field(
        default=None,
        description="An API token `remem mcp` (stdio) runs as, with that token's scope. "
        "Unset: the local admin.",
    )
    oauth2_issuer_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_ISSUER_URL", "OAUTH2_ISSUER_URL", "oauth2_issuer_url"
        ),
        description="`oauth2` mode: the `iss` every JWT must carry (required; also "
        "OAUTH2_ISSUER_URL).",
    )
    oauth2_audience: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_AUDIENCE", "OAUTH2_AUDIENCE", "oauth2_audience"
        ),
        description="`oauth2` mode: the `aud` every JWT must carry (required: a token minted "
        "for another service of the same issuer is refused; also OAUTH2_AUDIENCE).",
    )
    oauth2_jwks_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_JWKS_URL", "OAUTH2_JWKS_URL", "oauth2_jwks_url"
        ),
        description="`oauth2` mode: where the issuer's public keys are (also OAUTH2_JWKS_URL). "
        "Unset: `<issuer>/.well-known/jwks.json`.",
    )
    oauth2_algorithms: list[str] = Field(
        default=["RS256", "RS384", "RS512"],
        validation_alias=AliasChoices(
            "REMEM_OAUTH2_ALGORITHMS", "OAUTH2_ALGORITHMS", "oauth2_algorithms"
        ),
        description="`oauth2` mode: JWT signature algorithms accepted (a JSON list; also "
        "OAUTH2_ALGORITHMS). Public-key ones only (RS, PS, ES, EdDSA): `none` and HS* are "
        "refused at start.",
    )
    oauth2_jwks_cache_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="`oauth2` mode: how long fetched keys are used before fetching again. A "
        "token naming an unknown key id fetches at once, at most every 30 s.",
    )
    oauth2_namespaces_claim: str = Field(
        default="namespaces",
        description="`oauth2` mode: the claim holding the caller's namespaces (a list, or a "
        "space-separated string; exact names or prefixes ending in `*`; `*` = all). A JWT "
        "without it is refused.",
    )
    oauth2_user_claim: str = Field(
        default="user_id",
        description="`oauth2` mode: the claim holding the one user the caller may act for "
        "(absent: any user in its namespaces).",
    )
    oauth2_role_claim: str = Field(
        default="role",
        description="`oauth2` mode: the claim holding the role, `read`, `write` or `admin` (a "
        "list: the highest known one counts; absent or unknown: `read`).",
    )

    @model_validator(mode="after")
    def _upstream_token_mode(self) -> Settings:
        """TOKEN_AUTH_ENABLED=true with no mode named asks for token auth (remem.auth.modes
        refuses it beside another mode)."""
        if self.token_auth_enabled and "auth_mode" not in self.model_fields_set:
            self.auth_mode = "token"
        return self


def default(name: str) -> Any:
    """The default of the setting ``name``: where a constructor needs a default for a value the
    settings pass in, it takes this one, so each default is written once, above."""
    return Settings.model_fields[name].default


def settings_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = f"REMEM_{name.upper()}"
        if name == "redis_url":
            env = "REDIS_URL / REMEM_REDIS_URL"
        if field.default_factory is not None:
            default = "user data dir (`~/.local/share/remem`)" if name == "data_dir" else "computed"
        else:
            default = "unset" if field.default is None else f"`{field.default}`"
        rows.append(f"| `{env}` | {default} | {field.description or ''} |")
    return "\n".join(rows)
