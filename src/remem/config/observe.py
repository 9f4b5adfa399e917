"""Observability settings: logs (and, with issue 22, metrics, traces and the console)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class ObserveSettings(BaseSettings):
    """What a running remem shows of itself."""

    log_level: str = Field(default="info", description="Log level of the server.")
    metrics_enabled: bool = Field(
        default=True,
        description="Serve `GET /metrics` (Prometheus text format; admin only with auth on) and "
        "count HTTP requests for it. `false`: no route, no counting middleware.",
    )
