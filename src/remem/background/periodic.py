"""Periodic upkeep of long-term memory: compaction and forgetting, run on a schedule by the
workers (``tasks.jobs.PERIODIC``), with the policy model of the REST routes that do the same
on demand (``/v1/long-term-memory/compact`` and ``/forget``)."""

from __future__ import annotations

from dataclasses import dataclass

from remem.config import Settings
from remem.memory.longterm import LongTermMemoryService
from remem.models.search import ForgetPolicy, ForgetResponse


def forget_policy(settings: Settings) -> ForgetPolicy:
    """The forgetting policy the ``REMEM_FORGETTING_*`` settings describe."""
    return ForgetPolicy(
        max_age_days=settings.forgetting_max_age_days,
        max_inactive_days=settings.forgetting_max_inactive_days,
        budget=settings.forgetting_budget,
        memory_type_allowlist=settings.forgetting_memory_types,
        hard_age_multiplier=settings.forgetting_hard_age_multiplier,
    )


@dataclass
class Maintenance:
    long_term: LongTermMemoryService
    policy: ForgetPolicy
    scan_limit: int

    async def compact(self) -> tuple[int, int]:
        """Compact every namespace: (memories before, memories after)."""
        before = await self.long_term.count()
        return before, await self.long_term.compact()

    async def forget(self) -> ForgetResponse:
        """Apply the policy to the ``scan_limit`` oldest memories of every namespace."""
        return await self.long_term.forget(self.policy, limit=self.scan_limit, dry_run=False)
