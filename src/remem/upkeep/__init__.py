"""Upkeep of the store as a whole, run from the CLI: ``remem migrate`` takes over an Agent
Memory Server's keys (``migrate``, ``ams_memories``, with ``legacy`` reading its values) and
converts remem's own older layout; ``remem reindex`` re-embeds every memory (``reindex``).
They sit above ``runtime``; the Redis they read and write is reached through ``store``.
"""
