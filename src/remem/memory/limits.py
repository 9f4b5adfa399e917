"""Per-field limits of a request: messages in one session write, characters in one text,
memories in one create. Past one, the request is refused whole with 413 and a reason that
names the field and the setting (nothing is written).

The body limit (``REMEM_MAX_BODY_BYTES``, ``api.limits``) bounds a request's bytes; these bound
what one request makes remem do: every message of a write is kept in one JSON document that
each later write and read moves whole, every text is embedded (a provider refuses long ones:
OpenAI's models take 8,191 tokens, about 30,000 characters), and one create embeds all its
memories in one batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from remem.config import default
from remem.errors import PayloadTooLarge


@dataclass(frozen=True)
class Limits:
    messages_per_write: int = default("max_messages_per_write")
    text_chars: int = default("max_text_chars")
    memories_per_request: int = default("max_memories_per_request")

    def messages(self, count: int) -> None:
        if count > self.messages_per_write:
            raise PayloadTooLarge(
                f"{count:,} messages in one write; at most {self.messages_per_write:,} "
                "(REMEM_MAX_MESSAGES_PER_WRITE)"
            )

    def memories(self, count: int) -> None:
        if count > self.memories_per_request:
            raise PayloadTooLarge(
                f"{count:,} memories in one request; at most {self.memories_per_request:,} "
                "(REMEM_MAX_MEMORIES_PER_REQUEST)"
            )

    def texts(self, field: str, values: Iterable[str | None]) -> None:
        """Each of ``values`` (``field[i]`` in the reason) within ``text_chars``."""
        for i, value in enumerate(values):
            if value is not None and len(value) > self.text_chars:
                raise PayloadTooLarge(
                    f"{field.format(i=i)} has {len(value):,} characters; at most "
                    f"{self.text_chars:,} (REMEM_MAX_TEXT_CHARS)"
                )
