"""The managed API's namespace resources of a store: one hash per store (id -> the JSON record),
every change one script over it, so the tree's rules hold under concurrent writers.

A record: ``namespaceId``, ``name``, ``parentId`` ("" for a root), ``rootId``, ``scope``,
``ownerId`` ("" for none), ``state`` (``ACTIVE``/``ARCHIVED``), ``revision`` and the epoch
milliseconds ``createdAt``/``updatedAt``. The rules (a 409 each): sibling names are unique; an
archived namespace takes no children and no other change; only a leaf is deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from remem.errors import Conflict, NotFound
from remem.store.connection import translates_errors
from remem.store.keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

_LOAD = """
local recs = {}
local raw = redis.call('HGETALL', KEYS[1])
for i = 1, #raw, 2 do recs[raw[i]] = cjson.decode(raw[i + 1]) end
local function sibling(parent_id, name, except)
  for id, r in pairs(recs) do
    if r.parentId == parent_id and r.name == name and id ~= except then return r end
  end
  return nil
end
"""

# ARGV: parent id ("" for a root), scope, owner, now (ms), then (name, new id) per segment:
# missing segments are made; the last must not exist. {"ok", id} | {"missing"|"conflict", why}
_CREATE = (
    _LOAD
    + """
local parent = nil
if ARGV[1] ~= '' then
  parent = recs[ARGV[1]]
  if not parent then return {'missing', 'namespace ' .. ARGV[1] .. ' not found'} end
end
local n = (#ARGV - 4) / 2
local made = nil
for s = 1, n do
  local name, new_id = ARGV[3 + 2 * s], ARGV[4 + 2 * s]
  local pid = parent and parent.namespaceId or ''
  local found = sibling(pid, name, nil)
  if found then
    if s == n then return {'conflict', 'a namespace named ' .. name .. ' already exists there'} end
    parent = found
  else
    if parent and parent.state == 'ARCHIVED' then
      return {'conflict', 'namespace ' .. parent.name .. ' is archived'}
    end
    local r = {namespaceId = new_id, name = name, parentId = pid,
      rootId = parent and parent.rootId or new_id, scope = parent and parent.scope or ARGV[2],
      ownerId = parent and parent.ownerId or ARGV[3], state = 'ACTIVE', revision = 1,
      createdAt = tonumber(ARGV[4]), updatedAt = tonumber(ARGV[4])}
    recs[new_id] = r
    redis.call('HSET', KEYS[1], new_id, cjson.encode(r))
    parent = r
    made = r
  end
end
return {'ok', made.namespaceId}
"""
)

# ARGV: id, new name ("" none), "1" to archive, now (ms).
_UPDATE = (
    _LOAD
    + """
local r = recs[ARGV[1]]
if not r then return {'missing', 'namespace ' .. ARGV[1] .. ' not found'} end
if r.state == 'ARCHIVED' then return {'conflict', 'namespace ' .. r.name .. ' is archived'} end
if ARGV[2] ~= '' and ARGV[2] ~= r.name then
  if sibling(r.parentId, ARGV[2], ARGV[1]) then
    return {'conflict', 'a namespace named ' .. ARGV[2] .. ' already exists there'}
  end
  r.name = ARGV[2]
end
if ARGV[3] == '1' then r.state = 'ARCHIVED' end
r.revision = r.revision + 1
r.updatedAt = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
return {'ok', ARGV[1]}
"""
)

# ARGV: id. Only a leaf (no children; no placements: remem's records have none yet).
_DELETE = (
    _LOAD
    + """
local r = recs[ARGV[1]]
if not r then return {'missing', 'namespace ' .. ARGV[1] .. ' not found'} end
for _, other in pairs(recs) do
  if other.parentId == ARGV[1] then
    return {'conflict', 'namespace ' .. r.name .. ' has children: delete them first'}
  end
end
redis.call('HDEL', KEYS[1], ARGV[1])
return {'ok', ARGV[1]}
"""
)


# KEYS[1] the store's tree, ARGV id, JSON record pairs: the tree as exported, written only
# where the store has none (an import never merges two trees, which could break their rules).
_RESTORE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def _outcome(reply: list[Any]) -> str:
    status, value = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
    if status == "missing":
        raise NotFound(value)
    if status == "conflict":
        raise Conflict(value)
    return value


@translates_errors
@dataclass
class NamespaceTree:
    redis: Redis
    keys: Keys

    # Registered on first use, not when made: a tree is made for each request that reads one,
    # and registering four scripts (a SHA-1 each) was a tenth of a managed search's own CPU.
    @cached_property
    def _create(self) -> AsyncScript:
        return self.redis.register_script(_CREATE)

    @cached_property
    def _update(self) -> AsyncScript:
        return self.redis.register_script(_UPDATE)

    @cached_property
    def _delete(self) -> AsyncScript:
        return self.redis.register_script(_DELETE)

    @cached_property
    def _restore(self) -> AsyncScript:
        return self.redis.register_script(_RESTORE)

    async def all(self, store: str) -> dict[str, dict[str, Any]]:
        """Every namespace of the store, by id."""
        raw = await self.redis.hgetall(self.keys.managed_namespaces(store))
        return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}

    async def create(
        self,
        store: str,
        segments: list[tuple[str, str]],
        *,
        parent_id: str,
        scope: str,
        owner_id: str,
        now_ms: int,
    ) -> str:
        """Make the missing ``(name, new id)`` segments under ``parent_id``; the last one's id."""
        args: list[Any] = [parent_id, scope, owner_id, now_ms]
        for name, new_id in segments:
            args += [name, new_id]
        reply = await self._create(keys=[self.keys.managed_namespaces(store)], args=args)
        return _outcome(reply)

    async def update(
        self, store: str, namespace_id: str, *, name: str, archive: bool, now_ms: int
    ) -> None:
        args = [namespace_id, name, "1" if archive else "0", now_ms]
        _outcome(await self._update(keys=[self.keys.managed_namespaces(store)], args=args))

    async def delete(self, store: str, namespace_id: str) -> None:
        keys = [self.keys.managed_namespaces(store)]
        _outcome(await self._delete(keys=keys, args=[namespace_id]))

    async def erase(self, store: str) -> int:
        """Delete the store's whole tree (its namespace is erased); how many it held."""
        key = self.keys.managed_namespaces(store)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(key)
            pipe.delete(key)
            held, _ = await pipe.execute()
        return int(held)

    async def stores(self) -> list[str]:
        """Every store holding namespace resources (a SCAN of their keys)."""
        found: list[str] = []
        async for key in self.redis.scan_iter(match=self.keys.managed_namespaces_pattern):
            store = self.keys.parse_managed_namespaces(
                key.decode() if isinstance(key, bytes) else key
            )
            if store is not None:
                found.append(store)
        return sorted(set(found))

    async def restore(self, store: str, tree: dict[str, dict[str, Any]]) -> bool:
        """Write an exported tree as it was, ids kept, unless the store has one (False)."""
        if not tree:
            return True
        args: list[str] = []
        for namespace_id, record in tree.items():
            args += [namespace_id, json.dumps(record)]
        keys = [self.keys.managed_namespaces(store)]
        return bool(await self._restore(keys=keys, args=args))
