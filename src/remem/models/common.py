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
    llm: str = Field(default="none", description="LLM used for extraction/summaries.")


class ErrorResponse(BaseModel):
    detail: str
    code: str
