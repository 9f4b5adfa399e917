"""Working-memory documents in Redis: one JSON document per session, listed through
``working_memory_idx``.

Writes are single Lua scripts, so each one is atomic on the server: a PUT keeps the session's
first ``created_at``; an append adds messages with JSON.ARRAPPEND and never loses a concurrent
writer's messages. Listing is ``store.listing``'s: a handful of FT.SEARCH calls whose cost does
not grow with the number of sessions skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from remem.store.connection import translates_errors
from remem.store.due import DUE_LUA, delay_arg
from remem.store.due_cluster import due_set
from remem.store.fanout import keys_everywhere
from remem.store.keys import Keys
from remem.store.listing import PLAIN_BELOW, PLAIN_DEEP_BELOW, SortField, alive, ids_of
from remem.store.listing_cluster import session_listing
from remem.store.query import conjunction, tag_equals
from remem.tracing import traceparent

TRACE_PARENT = "trace_parent"  # the last traced write's span, for the work it makes due
PLACED = "namespace_id"  # the managed API's namespace resource a session's memories go to
LABELLED = "namespace_label"  # the managed API's deprecated label, given to its memories
WRITTEN = ("long_term_memory_strategy", "updated_at", TRACE_PARENT, PLACED, LABELLED)

# PUT replaces the document, keeping the first created_at, namespace_id and namespace_label
# (set by a first managed event only). A message already extracted (marked "t" in the stored
# document) and sent again unchanged (same id, role and content) stays marked: a client's copy
# read before extraction finished (agent-memory-client's append is a GET, then a PUT) must not
# make the messages be extracted, and sent to an LLM, again. ARGV[3] / ARGV[4]: seconds until the
# session's extraction / promotion is due ('' : none), in the due set KEYS[2] (KEYS[3]: the
# due-since hash, ``store.due``).
_PUT = (
    DUE_LUA
    + """
local old = redis.call('JSON.GET', KEYS[1], '$.created_at')
local kept = redis.call('JSON.GET', KEYS[1], '$.namespace_id', '$.namespace_label')
local done = {}
local extracted = redis.call('JSON.GET', KEYS[1],
  '$.messages[?(@.discrete_memory_extracted=="t")]')
if extracted and extracted ~= '[]' then
  for _, m in ipairs(cjson.decode(extracted)) do
    if type(m.id) == 'string' then done[m.id] = m end
  end
end
redis.call('JSON.SET', KEYS[1], '$', ARGV[1])
for path, v in pairs(kept and cjson.decode(kept) or {}) do
  if type(v[1]) == 'string' then redis.call('JSON.SET', KEYS[1], path, cjson.encode(v[1])) end
end
if next(done) then
  local new = cjson.decode(ARGV[1]).messages
  if type(new) == 'table' then
    for i, m in ipairs(new) do
      local was = type(m) == 'table' and done[m.id]
      if was and m.discrete_memory_extracted ~= 't' and was.content == m.content
          and was.role == m.role then
        redis.call('JSON.SET', KEYS[1], '$.messages[' .. (i - 1) .. '].discrete_memory_extracted',
          '"t"')
      end
    end
  end
end
local created = false
if old and old ~= '[]' and old ~= '[null]' then
  created = string.sub(old, 2, -2)
  redis.call('JSON.SET', KEYS[1], '$.created_at', created)
end
if ARGV[2] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
else
  redis.call('PERSIST', KEYS[1])
end
due('extract', ARGV[3])
due('promote', ARGV[4])
return created
"""
)

# ARGV[4]: seconds until the session's extraction is due ('' : none); ARGV[5]: the writing
# span's traceparent ('' : none, left as it was); messages from ARGV[6].
_APPEND = (
    DUE_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('JSON.SET', KEYS[1], '$', ARGV[1])
else
  redis.call('JSON.ARRAPPEND', KEYS[1], '$.messages', unpack(ARGV, 6))
  redis.call('JSON.SET', KEYS[1], '$.updated_at', ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('JSON.SET', KEYS[1], '$.ttl_seconds', ARGV[3] == 'null' and 'null' or ARGV[3])
  end
end
local ttl = tonumber(string.sub(redis.call('JSON.GET', KEYS[1], '$.ttl_seconds'), 2, -2))
if ttl then
  local ms = math.floor((tonumber(ARGV[2]) + ttl) * 1000)
  redis.call('JSON.SET', KEYS[1], '$.expires_at', string.format('%.3f', ms / 1000))
  redis.call('PEXPIREAT', KEYS[1], string.format('%d', ms))
else
  redis.call('JSON.SET', KEYS[1], '$.expires_at', 'null')
  redis.call('PERSIST', KEYS[1])
end
if ARGV[5] ~= '' then redis.call('JSON.SET', KEYS[1], '$.trace_parent', '"' .. ARGV[5] .. '"') end
due('extract', ARGV[4])
return redis.call('JSON.GET', KEYS[1])
"""
)

# The items of an array of the document (``messages`` or ``memories``) whose ``field`` is
# still ``pending`` (JSON text, e.g. 'null'), as RedisJSON prints each one ('[{...}]'), and the
# ARGV[3] items before the first of them (context). One item read per index: a document edited
# by hand with an item lacking the field cannot shift the others.
_PENDING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local arr = '$.' .. ARGV[1]
local n = redis.call('JSON.ARRLEN', KEYS[1], arr)[1]
if not n then return {} end
local first = nil
local out = {}
for i = 0, n - 1 do
  local flag = redis.call('JSON.GET', KEYS[1], arr .. '[' .. i .. '].' .. ARGV[2])
  if flag == '[' .. ARGV[4] .. ']' or flag == '[]' then
    if not first then
      first = i
      for j = math.max(0, i - tonumber(ARGV[3])), i - 1 do
        table.insert(out, 'c')
        table.insert(out, redis.call('JSON.GET', KEYS[1], arr .. '[' .. j .. ']'))
      end
    end
    table.insert(out, 'p')
    table.insert(out, redis.call('JSON.GET', KEYS[1], arr .. '[' .. i .. ']'))
  end
end
return out
"""

# Set ``field`` to ARGV[3] on the items of the array that are, byte for byte, one of ARGV[4..]
# (as ``_PENDING`` read them). An item a concurrent PUT replaced or changed no longer matches
# and keeps its state; the rest of the document is never written. Returns how many were set.
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local arr = '$.' .. ARGV[1]
local n = redis.call('JSON.ARRLEN', KEYS[1], arr)[1]
if not n then return 0 end
local wanted = {}
for i = 4, #ARGV do wanted[ARGV[i]] = true end
local marked = 0
for i = 0, n - 1 do
  local path = arr .. '[' .. i .. ']'
  if wanted[redis.call('JSON.GET', KEYS[1], path)] then
    redis.call('JSON.SET', KEYS[1], path .. '.' .. ARGV[2], ARGV[3])
    marked = marked + 1
  end
end
return marked
"""

# Summarisation's patch: set ``context`` to ARGV[2] and remove the first #ARGV-2 messages, only
# if the document still starts with exactly those messages (ids ARGV[3..], in order) and its
# context is still ARGV[1] (JSON text, as read): messages appended meanwhile stay, and a PUT
# that replaced the messages or the context makes it a no-op (0). Returns 1 when applied.
_SUMMARIZED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local count = #ARGV - 2
local n = redis.call('JSON.ARRLEN', KEYS[1], '$.messages')[1]
if not n or n <= count then return 0 end
local function first(path)
  return cjson.decode(redis.call('JSON.GET', KEYS[1], path))[1]
end
if first('$.context') ~= cjson.decode(ARGV[1]) then return 0 end
for i = 0, count - 1 do
  if first('$.messages[' .. i .. '].id') ~= ARGV[i + 3] then return 0 end
end
redis.call('JSON.ARRTRIM', KEYS[1], '$.messages', count, n - 1)
redis.call('JSON.SET', KEYS[1], '$.context', ARGV[2])
return 1
"""

ItemArray = Literal["messages", "memories"]


class Pending(NamedTuple):
    """Items of a session still to process, each as stored (``raw``, what ``mark`` matches)
    and parsed; ``context`` are the items just before the first of them."""

    context: list[dict[str, Any]]
    items: list[dict[str, Any]]
    raw: list[str]


class Session(NamedTuple):
    """Who a session is: the store makes its key from this (``store.keys``)."""

    session_id: str
    user_id: str | None
    namespace: str | None


class Due(NamedTuple):
    """The background work a write leaves: seconds until the session's extraction and its
    promotion are due (None: none), marked in the write's own script (``store.due``), and the
    longest extraction may be held back by later writes (None: no limit)."""

    extract: float | None = None
    promote: float | None = None
    max_wait: float | None = None


NOTHING_DUE = Due()


@translates_errors
@dataclass
class WorkingMemoryStore:
    redis: Redis
    keys: Keys
    index: str
    plain_below: int = PLAIN_BELOW
    plain_deep_below: int = PLAIN_DEEP_BELOW

    def __post_init__(self) -> None:
        self._put = self.redis.register_script(_PUT)
        self._append = self.redis.register_script(_APPEND)
        self._pending = self.redis.register_script(_PENDING)
        self._mark = self.redis.register_script(_MARK)
        self._summarized = self.redis.register_script(_SUMMARIZED)
        self.due = due_set(self.redis, self.keys)
        self.listing = session_listing(
            self.redis, self.keys, self.index, self.plain_below, self.plain_deep_below
        )

    # -- documents ---------------------------------------------------------------------------
    def _key(self, session: Session) -> str:
        return self.keys.working_memory(*session)

    async def _write(
        self, script: AsyncScript, session: Session, args: list[Any], *due: object
    ) -> Any:
        """A write script marking its session due (``DUE_LUA``) as ``due`` says."""
        keys = [key := self._key(session), *self.keys.due_set_of(key)]
        reply = await script(keys=keys, args=args)
        if self.keys.cluster and any(due):
            await self.due.register(self.keys.due_tag(key))
        return reply

    async def put(
        self, session: Session, doc: dict[str, Any], due: Due = NOTHING_DUE
    ) -> float | None:
        """Replace the document, keeping an existing created_at (returned, or None if new).
        The key expires at the document's ``expires_at`` (epoch seconds; None: never). The
        session is marked due for the work ``due`` names, in the same script."""
        expires = doc.get("expires_at")
        if (parent := traceparent()) is not None:  # for the background work it causes
            doc = {**doc, TRACE_PARENT: parent}
        at_ms = "" if expires is None else str(round(expires * 1000))
        args = [
            json.dumps(doc),
            at_ms,
            delay_arg(due.extract, due.max_wait),
            delay_arg(due.promote),
        ]
        kept = await self._write(self._put, session, args, args[2], args[3])
        return float(kept) if kept else None

    async def get(self, session: Session) -> dict[str, Any] | None:
        raw = await self.redis.execute_command("JSON.GET", self._key(session))
        return json.loads(raw) if raw else None

    async def delete(self, session: Session) -> bool:
        return bool(await self.redis.delete(self._key(session)))

    async def append(
        self,
        session: Session,
        new_doc: dict[str, Any],
        messages: Sequence[dict[str, Any]],
        now: float,
        ttl_seconds: int | Literal["keep"] | None,
        due: Due = NOTHING_DUE,
    ) -> dict[str, Any]:
        """Append messages atomically, creating the session as ``new_doc`` if it is missing,
        and mark it due for extraction as ``due`` says, in the same script."""
        ttl_arg = "" if ttl_seconds == "keep" else ("null" if ttl_seconds is None else ttl_seconds)
        args = [json.dumps(new_doc), repr(now), ttl_arg, delay_arg(due.extract, due.max_wait)]
        args += [traceparent() or "", *(json.dumps(m) for m in messages)]
        raw = await self._write(self._append, session, args, args[3])
        doc: dict[str, Any] = json.loads(raw)
        return doc

    async def pending(
        self, session: Session, array: ItemArray, field: str, value: Any, context: int = 0
    ) -> Pending:
        """The items of ``array`` whose ``field`` is ``value`` (or missing), in order, read in
        one script; with up to ``context`` items before the first of them."""
        reply = await self._pending(
            keys=[self._key(session)], args=[array, field, context, json.dumps(value)]
        )
        out = Pending([], [], [])
        for kind, raw in zip(reply[::2], reply[1::2], strict=True):
            text = raw.decode() if isinstance(raw, bytes) else raw
            (item,) = json.loads(text)
            if kind in (b"c", "c"):
                out.context.append(item)
            else:
                out.items.append(item)
                out.raw.append(text)
        return out

    async def summarize_due(
        self, session: Session, window: int, delay: float, max_wait: float | None = None
    ) -> None:
        """The session's summarisation for a ``window``-token model is due in ``delay`` s
        (no later than ``max_wait`` after its batch's first mark)."""
        await self.due.mark(f"summarize:{window}", self._key(session), delay, max_wait)

    async def strategy(
        self, session: Session
    ) -> tuple[dict[str, Any] | None, float | None, str | None, str | None, str | None]:
        """The session's ``long_term_memory_strategy`` (None: no session, or none set), when it
        was last written (``updated_at``, epoch seconds; None: no session), and its traceparent,
        ``namespace_id`` and ``namespace_label`` (None: none), in one read."""
        paths = [f"$.{name}" for name in WRITTEN]
        raw = await self.redis.execute_command("JSON.GET", self._key(session), *paths)
        found = json.loads(raw) if raw else {}
        strategy, written, *names = ((found.get(path) or [None])[0] for path in paths)
        at = float(written) if isinstance(written, int | float) else None
        kept = strategy if isinstance(strategy, dict) else None
        return kept, at, *[n if isinstance(n, str) else None for n in names]  # type: ignore[return-value]

    async def mark(
        self, session: Session, array: ItemArray, field: str, value: Any, raw: Sequence[str]
    ) -> int:
        """Set ``field`` to ``value`` on the items still stored exactly as ``raw`` (read by
        ``pending``): an atomic patch of those items only, never a re-save of the document."""
        if not raw:
            return 0
        args = [array, field, json.dumps(value), *raw]
        return int(await self._mark(keys=[self._key(session)], args=args))

    async def summarized(
        self, session: Session, previous: str | None, context: str, ids: Sequence[str]
    ) -> bool:
        """Replace the context ``previous`` (as read) by ``context`` and remove the messages
        ``ids``, in one script, if they are still the document's first messages in that
        order and its context is still ``previous``; False (nothing written) otherwise."""
        args = [json.dumps(previous), json.dumps(context), *ids]
        return bool(await self._summarized(keys=[self._key(session)], args=args))

    # -- index -------------------------------------------------------------------------------
    async def find(
        self, session_id: str, namespace: str | None, user_id: str | None, limit: int = 10
    ) -> list[Session]:
        """The sessions with this id (and namespace / user, when given)."""
        query = conjunction(
            [
                tag_equals("session_id", session_id),
                tag_equals("namespace", namespace) if namespace else "",
                tag_equals("user_id", user_id) if user_id else "",
                alive(time.time()),
            ]
        )
        if self.keys.cluster:  # on its namespace's primary, or on every one (store.fanout)
            keys = await keys_everywhere(self.redis, self.index, query, namespace, limit)
        else:
            search = ("FT.SEARCH", self.index, query, "NOCONTENT", "LIMIT", 0, limit, "DIALECT", 2)
            keys = ids_of(await self.redis.execute_command(*search))
        found = map(self.keys.parse_working_memory, keys)
        return [Session(session_id, user, namespace) for namespace, user, session_id in found]

    async def list_sessions(
        self,
        *,
        namespace: str | None = None,
        namespaces: Sequence[str] | None = None,
        user_id: str | None,
        sort: SortField,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[int, list[str]]:
        """(true total, session ids of the page): ``store.listing``."""
        return await self.listing.list_sessions(
            namespace=namespace,
            namespaces=namespaces,
            user_id=user_id,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
        )
