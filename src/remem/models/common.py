"""Small shared wire models."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class AckResponse(BaseModel):
    status: str = "ok"


class HealthCheckResponse(BaseModel):
    now: int = Field(description="Server time, epoch milliseconds.")
    status: str = "ok"
    version: str
    redis: dict[str, object] = Field(default_factory=dict)
    embedded_redis: bool = False
    llm: dict[str, object] = Field(
        default_factory=dict,
        description="Whether an LLM is configured (or why not), its model, and for each "
        "feature that can use one what it does with it and without it.",
    )


class ErrorResponse(BaseModel):
    detail: str
    code: str
    error_id: str | None = Field(
        default=None, description="Server faults (5xx): finds the full detail in the log."
    )
