"""Export everything of a user or a namespace as JSON Lines, narrowed to what the caller sees:
the format of ``remem memories export`` (``maintenance.transfer``: the header, then one line a
memory), with the working-memory sessions first, one line each, marked
``"kind": "working_memory"`` (the stored session document as it is). A namespace's export
(no user named) ends with the managed API's namespace resources of that store, one line
``"kind": "managed_namespaces"`` (``transfer.tree_lines``), as ``remem memories export`` writes.

``remem memories import`` reads such a file: it restores the memories and the store's namespace
resources (where the store has none) and passes over the session lines, counting them
(sessions are short-lived state: their TTLs and the tasks they schedule do not survive a move,
so importing them is left out on purpose).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable

from remem.auth.principal import Principal
from remem.runtime import Resources
from remem.store.namespace_tree import NamespaceTree
from remem.store.owned import OwnedData
from remem.store.working import TRACE_PARENT
from remem.tenants.transfer import SESSION_KIND, Transferred, header, memory_lines, tree_lines


async def export_lines(
    res: Resources,
    caller: Principal,
    *,
    user_id: str | None,
    namespace: str | None,
    done: Transferred | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> AsyncIterator[str]:
    """The export, a line at a time (each ending in a newline); scope already checked."""
    started, done = time.perf_counter(), done if done is not None else Transferred()
    yield json.dumps(header(res.long_term)) + "\n"
    owned = OwnedData(
        res.redis, res.keys, res.settings.working_memory_index,
        res.settings.long_term_memory_index,
    )  # fmt: skip
    try:
        offset = 0
        while page := await owned.session_documents(namespace, user_id, offset):
            offset += owned.page
            for _, doc in page:
                if caller.sees(doc.get("namespace"), doc.get("user_id")):
                    done.sessions += 1
                    doc.pop(TRACE_PARENT, None)  # a span of this server's traces, not data
                    yield json.dumps({"kind": SESSION_KIND, **doc}, ensure_ascii=False) + "\n"
        async for line in memory_lines(
            res.long_term, namespace=namespace, user_id=user_id, visible=caller.sees,
            progress=progress, done=done, id_batches=owned.memory_ids(namespace, user_id),
        ):  # fmt: skip
            yield json.dumps(line, ensure_ascii=False) + "\n"
        if user_id is None and namespace is not None:  # a store's resources, not a user's
            trees = NamespaceTree(res.redis, res.keys)
            async for line in tree_lines(trees, namespace, done):
                yield json.dumps(line, ensure_ascii=False) + "\n"
    finally:
        await owned.aclose()
    done.seconds = time.perf_counter() - started
