"""Erase everything of a user (everywhere, or within one namespace) or of a namespace, in one
call, with a receipt kept in the audit log.

In order: the sessions (working memory), then their tasks (pending, running, and Docket's
records of them), then the long-term memories with their access counters. Sessions go first so
that a task starting meanwhile finds no session to extract from; memories go last so that a
task that had already read its session before the erase and writes memories is, as often as
the timing allows, erased too.

What a write racing the erase does (there is no lock: an erase must not stop other tenants):
- a write that lands before a round reads its page is erased with the rest;
- a write that lands after the last round of its kind is kept: it is new data, written after
  the erase, and a second erase removes it. The receipt counts only what was erased;
- a task already running when its session is erased (an extraction embedding the messages it
  read) is signalled to stop; if it finishes first, the memories it writes after the memory
  rounds survive. ``remem erase`` again (or ``POST /v1/erasures``) removes them;
- search hits a process counted before the erase are flushed only to memories that still
  exist (``store.longterm.documents.touch_many``), except in the moment between its two round
  trips: a memory erased just then gets its hit count back in the access-count hash (the id
  and a number, no text), which nothing reads once the memory is gone.

Scope: erasing a namespace needs the admin role; erasing a user needs write, a user the caller
may address and, with a namespace, a namespace within its scope. A caller whose scope is not
every namespace erases a user only within one of its namespaces (the user's data elsewhere is
another tenant's to erase).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from remem.auth import guard
from remem.auth.principal import Principal
from remem.errors import Forbidden
from remem.models.erasure import ErasureCounts, ErasureReceipt
from remem.runtime import Resources
from remem.store.namespace_tree import NamespaceTree
from remem.store.owned import OwnedData


def owned_data(res: Resources) -> OwnedData:
    return OwnedData(
        res.redis,
        res.keys,
        res.settings.working_memory_index,
        res.settings.long_term_memory_index,
    )


async def erase(
    res: Resources, caller: Principal, *, user_id: str | None, namespace: str | None
) -> ErasureReceipt:
    """Erase, record the receipt in the audit log, and return it. A refusal is recorded too."""
    try:
        user_id, namespace = guard.erasure(user_id, namespace, caller)
    except Forbidden as exc:
        await res.audit.record(
            "erase", caller, outcome="forbidden", user_id=user_id, namespace=namespace,
            reason=exc.detail,
        )  # fmt: skip
        raise
    receipt_id = uuid.uuid4().hex
    started = time.time()
    erasure = owned_data(res)
    try:
        sessions, unlinked = await erasure.sessions(namespace, user_id)
        tasks = await res.tasks.forget_sessions(sessions)
        memories, counters = await erasure.memories(namespace, user_id)
        trees = 0
        if namespace is not None and user_id is None:  # its store's namespace resources too
            trees = await NamespaceTree(res.redis, res.keys).erase(namespace)
    finally:
        await erasure.aclose()
    receipt = ErasureReceipt(
        id=receipt_id,
        user_id=user_id,
        namespace=namespace,
        counts=ErasureCounts(
            working_memory_sessions=unlinked,
            long_term_memories=memories,
            access_counters=counters,
            task_records=tasks,
            managed_namespaces=trees,
        ),
        started_at=datetime.fromtimestamp(started, UTC),
        finished_at=datetime.now(UTC),
        requested_by=caller.subject,
    )
    await res.audit.record("erase", caller, **receipt.model_dump(mode="json"))
    return receipt
