"""Observability settings: logs (and, with issue 22, metrics, traces and the console)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

ORIGIN = re.compile(r"https?://[^/?#\s]+")  # what a browser sends in Origin: no path, no slash


class ObserveSettings(BaseSettings):
    """What a running remem shows of itself."""

    log_level: str = Field(default="info", description="Log level of the server.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`text`: `LEVEL logger: message [request id]` lines on stderr. `json`: one "
        "JSON object a line (time, level, logger, message, request_id, trace_id, span_id, "
        "error_id, exception), uvicorn's lines included.",
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="`remem worker` serves its metrics (tasks, extraction, the LLM) at "
        "`http://127.0.0.1:<port>/metrics`, loopback only. Unset: not served (a worker serves "
        "no HTTP otherwise).",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve `GET /metrics` (Prometheus text format; admin only with auth on) and "
        "count HTTP requests for it. `false`: no route, no counting middleware.",
    )
    trace_content: bool = Field(
        default=False,
        description="With traces on (the `otel` extra and the standard `OTEL_*` variables): "
        "let spans carry text a caller sent (a search's query). Off: counts and modes only.",
    )
    cors_origins: list[str] = Field(
        default=[],
        description="Browser origins allowed to call remem (CORS; a JSON list of exact origins, "
        'e.g. `["https://app.example"]`, or `["*"]`, refused with auth disabled). Empty: no '
        "CORS headers. Never with credentials: tokens go in `Authorization`.",
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"REMEM_CORS_ORIGINS: {origin!r} is not an origin such as "
                    "https://app.example or http://localhost:3000 (no path, no trailing slash)"
                )
        return origins
