"""A store's sessions as the managed API reads them: one session found by id in its namespace,
whatever its user, in one search that answers the document (``find``); one message removed by
id ("delete a session event"); and whether a session is placed in a namespace resource
(``placed``: such a namespace is not deleted).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from remem.store.connection import translates_errors
from remem.store.fanout import keys_everywhere
from remem.store.keys import Keys
from remem.store.listing import alive
from remem.store.query import conjunction, tag_equals
from remem.store.working import Session

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

# KEYS[1] the session, ARGV[1] the message id: the first message with that id is removed, in
# one script, so a concurrent append or PUT is never lost. 1 removed, 0 not there.
_REMOVE = """
local raw = redis.call('JSON.GET', KEYS[1], '$.messages[*].id')
if not raw then return 0 end
for i, id in ipairs(cjson.decode(raw)) do
  if id == ARGV[1] then
    redis.call('JSON.DEL', KEYS[1], '$.messages[' .. (i - 1) .. ']')
    return 1
  end
end
return 0
"""


@translates_errors
@dataclass
class SessionMessages:
    redis: Redis
    keys: Keys

    @cached_property  # on first use (one is made for an app: managed.sessions)
    def _remove(self) -> AsyncScript:
        return self.redis.register_script(_REMOVE)

    async def find(
        self, index: str, session_id: str, namespace: str
    ) -> list[tuple[Session, dict[str, Any]]]:
        """The live sessions ``session_id`` of ``namespace`` (any user; two at most, enough to
        tell one from several), each with its document: one FT.SEARCH returning ``$``, where a
        search for the key and a JSON.GET of it would be two commands."""
        query = conjunction(
            [
                tag_equals("session_id", session_id),
                tag_equals("namespace", namespace),
                alive(time.time()),
            ]
        )
        search = ("FT.SEARCH", index, query, "RETURN", 1, "$", "LIMIT", 0, 2, "DIALECT", 2)
        found = await self.redis.execute_command(*search)
        out = []
        for key, doc in _hits(found):
            ns, user, sid = self.keys.parse_working_memory(key)
            out.append((Session(sid, user, ns), json.loads(doc)))
        return out

    async def placed(self, index: str, namespace: str, namespace_id: str) -> bool:
        """Whether a live session of ``namespace`` is placed in the namespace resource
        ``namespace_id`` (on a cluster, asked of the primary holding the namespace)."""
        query = conjunction(
            [
                tag_equals("namespace", namespace),
                tag_equals("namespace_id", namespace_id),
                alive(time.time()),
            ]
        )
        if self.keys.cluster:
            return bool(await keys_everywhere(self.redis, index, query, namespace, 1))
        search = ("FT.SEARCH", index, query, "NOCONTENT", "LIMIT", 0, 0, "DIALECT", 2)
        return int((await self.redis.execute_command(*search))["total_results"]) > 0

    async def remove(self, session: Session, message_id: str) -> bool:
        """Remove the message ``message_id`` of ``session``; False when it is not there."""
        key = self.keys.working_memory(*session)
        return bool(await self._remove(keys=[key], args=[message_id]))


def _hits(reply: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, JSON text) of each hit of an FT.SEARCH ... RETURN 1 $ answer (RESP3)."""
    return [(row["id"], row["extra_attributes"]["$"]) for row in reply.get("results", [])]
