"""The session index is declared as data and migrated when the live one differs."""

from __future__ import annotations

from remem.config import Settings
from remem.models.working import MemoryMessage, UpdateWorkingMemory
from remem.runtime import Resources
from remem.store.schema import IndexSpec, ensure_index, working_memory_index


async def test_start_up_is_idempotent(settings: Settings) -> None:
    async with Resources(settings) as first:
        live = await first.redis.execute_command("FT.INFO", settings.working_memory_index)
    async with Resources(settings) as second:
        again = await second.redis.execute_command("FT.INFO", settings.working_memory_index)
    assert live["index_name"] == again["index_name"]


async def test_a_changed_schema_is_rebuilt_and_the_alias_moves(settings: Settings) -> None:
    async with Resources(settings) as res:
        await res.working.put("kept", _body())
        spec = working_memory_index(res.keys, settings.working_memory_index)
        old = IndexSpec(spec.name, spec.prefix, spec.fields[:2])  # an older, smaller schema
        old_live = await ensure_index(res.redis, res.keys, old)
        info = await res.redis.execute_command("FT.INFO", spec.name)
        assert info["index_name"] == old_live
        assert len(info["attributes"]) == 2

    async with Resources(settings) as res:  # start-up with the declared schema
        info = await res.redis.execute_command("FT.INFO", settings.working_memory_index)
        assert info["index_name"] != old_live
        assert {a["attribute"] for a in info["attributes"]} >= {"created_at", "updated_at"}
        assert old_live not in await res.redis.execute_command("FT._LIST")
        listed = await res.working.list_sessions(
            namespace=None, user_id=None, limit=10, offset=0, sort="created_at", descending=True
        )
        assert listed.sessions == ["kept"]  # documents were kept and re-indexed


async def test_a_live_index_altered_by_hand_is_rebuilt(settings: Settings) -> None:
    async with Resources(settings) as res:
        spec = working_memory_index(res.keys, settings.working_memory_index)
        live = res.keys.index_name(spec.name, spec.version)
        await res.redis.execute_command(
            "FT.ALTER", live, "SCHEMA", "ADD", "$.context", "AS", "context", "TEXT"
        )
    async with Resources(settings) as res:
        info = await res.redis.execute_command("FT.INFO", live)
        assert "context" not in {a["attribute"] for a in info["attributes"]}


def _body() -> UpdateWorkingMemory:
    return UpdateWorkingMemory(messages=[MemoryMessage(role="user", content="hi")])
