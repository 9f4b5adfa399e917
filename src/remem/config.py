"""Settings: one object, built at the edge (CLI, app factory, tests) and passed in.

Environment variables use the prefix ``REMEM_``; where the upstream Agent Memory Server has a
variable with the same meaning (``REDIS_URL``), that name is read too.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("remem", appauthor=False))


class Settings(BaseSettings):
    """remem configuration. The README's configuration table is generated from these fields."""

    model_config = SettingsConfigDict(env_prefix="REMEM_", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REMEM_REDIS_URL", "REDIS_URL", "redis_url"),
        description="Redis to use (Redis 8, Redis Stack or managed Redis with Search and JSON). "
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
    redis_timeout_seconds: float = Field(
        default=5.0, description="Socket timeout for Redis commands."
    )
    redis_max_connections: int = Field(default=64, description="Connection pool size per process.")
    summarization_threshold: float = Field(
        default=0.7,
        description="Share of the context window at which a session counts as due for "
        "summarisation (drives context_percentage_until_summarization).",
    )
    log_level: str = Field(default="info", description="Log level of the server.")


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
