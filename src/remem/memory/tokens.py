"""Token estimates and context-window arithmetic for working memory."""

from __future__ import annotations

from collections.abc import Sequence

from remem.models.working import MemoryMessage

# Context windows (tokens) of common models, for the context_percentage_* fields.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    "claude-3-opus-latest": 200_000,
    "claude-3-5-sonnet-latest": 200_000,
    "claude-3-5-haiku-latest": 200_000,
    "claude-3-7-sonnet-latest": 200_000,
    "claude-sonnet-4-20250514": 200_000,
    "claude-opus-4-20250514": 200_000,
    "claude-sonnet-4-5": 200_000,
    "claude-haiku-4-5": 200_000,
    "claude-opus-4-5": 200_000,
}


def estimate_tokens(text: str) -> int:
    """About four characters a token: close enough for English with GPT/Claude tokenisers."""
    return (len(text) + 3) // 4


def message_tokens(message: MemoryMessage) -> int:
    return estimate_tokens(message.content) + 4  # role and separators


def messages_tokens(messages: Sequence[MemoryMessage]) -> int:
    return sum(message_tokens(m) for m in messages)


def context_window(model_name: str | None, context_window_max: int | None) -> int | None:
    if context_window_max:
        return context_window_max
    if model_name:
        return CONTEXT_WINDOWS.get(model_name)
    return None


def usage_percentages(tokens: int, window: int | None, threshold: float) -> tuple[float, float]:
    assert window
    total = min(100.0, 100.0 * tokens / window)
    until = min(100.0, 100.0 * tokens / (window * threshold))
    return round(total, 2), round(until, 2)


def keep_within(messages: list[MemoryMessage], window: int) -> list[MemoryMessage]:
    """Drop the oldest messages until the rest fit the window (always keep the newest)."""
    kept: list[MemoryMessage] = []
    used = 0
    for message in reversed(messages):
        cost = message_tokens(message)
        if kept and used + cost > window:
            break
        kept.append(message)
        used += cost
    return kept[::-1]


def summarization_due(messages: Sequence[MemoryMessage], window: int, threshold: float) -> bool:
    """True when the messages use more than ``threshold`` of the window: a write leaves the
    session due for summarisation (``background.summarization``)."""
    return messages_tokens(messages) > threshold * window
