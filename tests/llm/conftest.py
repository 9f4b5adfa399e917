"""The long-term store fixtures (over the session's embedded Redis, WordEmbedder vectors)."""

from tests.longterm.conftest import embedder, redis, store  # noqa: F401
