"""On a single Redis a session write is what it was before cluster support: one script call
(its commands inside it), no registry of due sets, and its marks in the one due set."""

from __future__ import annotations

from remem.runtime import Resources
from remem.store.working import Due


async def _calls(resources: Resources) -> dict[str, int]:
    stats = await resources.redis.info("commandstats")
    return {name: int(value["calls"]) for name, value in stats.items() if name != "cmdstat_info"}


async def test_a_write_is_one_script_and_marks_the_one_due_set(resources: Resources) -> None:
    store = resources.working.store
    assert not store.keys.cluster
    doc = {"session_id": "s", "namespace": "ns", "messages": [], "memories": []}
    due = Due(extract=30.0, promote=30.0)
    await store.put(("s", None, "ns"), doc, due)  # loads the script
    before = await _calls(resources)
    await store.put(("s", None, "ns"), doc, due)
    after = await _calls(resources)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    sent = {k: n for k, n in delta.items() if n}
    assert sent.get("cmdstat_evalsha") == 1
    assert "cmdstat_sadd" not in sent and "cmdstat_smembers" not in sent
    # Inside the script: the document and both marks, in the one due set.
    assert sent.get("cmdstat_zadd") == 2
    session = store.keys.working_memory("s", None, "ns")
    members = await resources.redis.zrange(store.keys.tasks_due, 0, -1)
    assert sorted(members) == [f"extract:{session}", f"promote:{session}"]
