"""The keys the real Agent Memory Server 0.15.2 wrote (tests/fixtures/ams/, made by its
make_fixture.py), put back into a test Redis as they were, with AMS's own indexes.

AMS's keys and index names are global (no prefix), unlike remem's per-test prefix, so a test
loads them with `load_ams_fixture` and removes them with `clear_ams_keys` before and after, as
tests/maintenance/test_migration.py does with its hand-written legacy keys."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

DEFAULT = Path(__file__).parent / "fixtures" / "ams" / "ams-0.15.2.json"


@dataclass(frozen=True)
class AmsSession:
    session_id: str
    namespace: str | None
    user_id: str | None
    key: str
    had_ttl: bool
    stored: dict[str, Any]  # the RedisJSON document as AMS stored it
    api_view: dict[str, Any]  # GET /v1/working-memory/{id} as AMS answered it


@dataclass(frozen=True)
class AmsMemory:
    id: str
    key: str
    stored: dict[str, str | bytes]  # the hash as AMS stored it (the vector as bytes)
    api_view: dict[str, Any]  # GET /v1/long-term-memory/{id} as AMS answered it


@dataclass(frozen=True)
class AmsFixture:
    meta: dict[str, Any]
    indexes: dict[str, list[str]]  # name -> FT.CREATE arguments after the name, as AMS sent them
    keys: dict[str, dict[str, Any]]  # key -> {"type", "pttl", "value"} as recorded
    sessions: list[AmsSession]
    memories: list[AmsMemory]  # long-term: the 14 written directly and 2 promoted ones


def read_fixture(path: Path = DEFAULT) -> tuple[dict[str, Any], AmsFixture]:
    raw = json.loads(path.read_text())
    keys = {k["key"]: k for k in raw["keys"]}
    sessions = [
        AmsSession(
            session_id=s["session_id"],
            namespace=s["namespace"],
            user_id=s["user_id"],
            key=s["key"],
            had_ttl=keys[s["key"]]["pttl"] > 0,
            stored=keys[s["key"]]["value"],
            api_view=s["api_view"],
        )
        for s in raw["sessions"]
    ]
    memories = [
        AmsMemory(
            id=m["id"],
            key=f"memory_idx:{m['id']}",
            stored={
                f: _bytes_or_text(v) for f, v in keys[f"memory_idx:{m['id']}"]["value"].items()
            },
            api_view=m["api_view"],
        )
        for m in raw["memories"]
    ]
    return raw, AmsFixture(raw["meta"], raw["indexes"], keys, sessions, memories)


def _bytes_or_text(value: Any) -> Any:
    return base64.b64decode(value["base64"]) if isinstance(value, dict) else value


async def load_ams_fixture(redis: Redis, path: Path = DEFAULT) -> AmsFixture:
    """Create AMS's indexes (any of the same name dropped first, its documents kept), then
    write every recorded key, so each is indexed as it lands (no background scan to wait for),
    with its remaining PTTL where it had one."""
    raw, fixture = read_fixture(path)
    await _drop_indexes(redis, fixture.indexes)
    for name, args in fixture.indexes.items():
        await redis.execute_command("FT.CREATE", name, *args)
    pipe = redis.pipeline(transaction=False)
    for entry in raw["keys"]:
        key, kind, value = entry["key"], entry["type"], entry["value"]
        pipe.delete(key)
        if kind == "hash":
            pipe.hset(key, mapping={f: _bytes_or_text(v) for f, v in value.items()})
        elif kind == "ReJSON-RL":
            pipe.execute_command("JSON.SET", key, "$", json.dumps(value))
        elif kind == "string":
            pipe.set(key, _bytes_or_text(value))
        elif kind == "zset":
            pipe.zadd(key, {_bytes_or_text(m): s for m, s in value})
        elif kind == "set":
            pipe.sadd(key, *[_bytes_or_text(m) for m in value])
        elif kind == "list":
            pipe.rpush(key, *[_bytes_or_text(m) for m in value])
        else:
            raise ValueError(f"{key}: type {kind} is not recorded by make_fixture.py")
        if entry["pttl"] > 0:
            pipe.pexpire(key, entry["pttl"])
    await pipe.execute()
    await _until_indexed(redis, fixture.indexes)
    return fixture


async def clear_ams_keys(redis: Redis, path: Path = DEFAULT) -> None:
    """Remove every key the fixture writes and AMS's indexes (without DD: the keys go by name)."""
    raw, fixture = read_fixture(path)
    await _drop_indexes(redis, fixture.indexes)
    names = [entry["key"] for entry in raw["keys"]]
    if names:
        await redis.delete(*names)


async def _drop_indexes(redis: Redis, indexes: dict[str, list[str]]) -> None:
    listed = {_text(n) for n in await redis.execute_command("FT._LIST")}
    for name in indexes:
        if name in listed:
            await redis.execute_command("FT.DROPINDEX", name)


async def _until_indexed(redis: Redis, indexes: dict[str, list[str]]) -> None:
    """Documents written after FT.CREATE are indexed on write; this only covers the initial
    scan of keys already there (a test that loads twice), bounded at 10 s."""
    for name in indexes:
        for _ in range(200):
            info = {_text(k): v for k, v in (await redis.ft(name).info()).items()}
            if str(_text(info["indexing"])) == "0":
                break
            await asyncio.sleep(0.05)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
