"""remem: memory for AI agents on Redis with its Query Engine."""

__version__ = "0.1.0"
